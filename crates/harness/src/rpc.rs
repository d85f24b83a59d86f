//! Lenient JSON-RPC calls: raw JSON out, Core's error code and message kept.

use corepc_node::client::client_sync::Error as ClientError;
use serde_json::Value;

/// An RPC call that the node answered with an error (or that did not reach it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{method}: {message} (code {code})")]
pub struct RpcError {
    /// The RPC method.
    pub method: String,
    /// Core's error code (e.g. -26 for a rejected transaction); 0 when the call failed before
    /// the node answered.
    pub code: i32,
    /// Core's message, e.g. its reject reason.
    pub message: String,
}

pub(crate) fn call(client: &corepc_node::Client, method: &str, args: &[Value]) -> Result<Value, RpcError> {
    client.call::<Value>(method, args).map_err(|e| {
        let (code, message) = match &e {
            ClientError::JsonRpc(jsonrpc::error::Error::Rpc(r)) => (r.code, r.message.clone()),
            other => (0, other.to_string()),
        };
        RpcError { method: method.to_owned(), code, message }
    })
}
