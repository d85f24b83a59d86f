//! Arithmetic gadgets over script numbers.
//!
//! Script numbers used by arithmetic opcodes are at most 4 bytes, signed: `[-(2^31-1), 2^31-1]`.
//! A u32 therefore does not fit one item; everything here works on *limbs* of at most 30 bits
//! (29 for field elements, so that `(2^w+1)*p` intermediate values of the hinted multiplication
//! still fit), where a limb plus a limb plus a carry is still a valid operand.
//!
//! - [`nat`]: a native big unsigned integer (constants, hints, test reference).
//! - [`bigint`]: [`Layout`] (the limb representation) and add / sub / equal / less-than /
//!   range-check gadgets for n-bit integers.
//! - [`field`]: arithmetic modulo a constant prime ([`bn254_fq`]): add, sub, double and two
//!   multiplication variants (windowed, hinted-windowed).
//! - [`mulcheck`]: multiplication mod p by checking `A*B = Q*p + C` over the integers with
//!   hinted quotient and carries ([`CheckedMul`]), about 5x smaller than the hinted windowed one.
//! - [`convert`]: regrouping of bits between item widths (Winternitz nibbles <-> limbs).
//!
//! Stack convention everywhere: a multi-item value has its most significant item deepest and
//! its least significant item on top, i.e. the witness lists it most significant first.

pub(crate) mod asm;
pub mod bigint;
pub mod convert;
pub mod field;
pub mod mulcheck;
pub mod nat;

pub use bigint::Layout;
pub use convert::{limbs_to_nibbles, nibbles_to_limbs, regroup, Digits};
pub use field::{bn254_fq, FieldError, PrimeField, BN254_FQ_HEX};
pub use mulcheck::{CheckedMul, MulCheckError};
pub use nat::Nat;

/// A u32 as two 16-bit limbs (high limb deepest).
pub const U32: Layout = Layout::new(32, 16);

#[cfg(test)]
pub(crate) mod tests;
