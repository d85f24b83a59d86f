//! Work spread over every available core, for generation and search over thousands of leaves.

/// `items.map(f)` on every available core (workers take chunks of 32 in turn; the results come
/// back in order), calling `progress(done, total)` from the workers as chunks finish.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: &(dyn Fn(&T) -> R + Sync), progress: &(dyn Fn(usize, usize) + Sync)) -> Vec<R> {
    par_map_with(items, &|| (), &|_, x| f(x), progress)
}

/// [`par_map`] where each worker has its own state made by `init` (e.g. a buffer reused from
/// item to item) that `f` gets with every item.
pub fn par_map_with<T: Sync, S, R: Send>(
    items: &[T],
    init: &(dyn Fn() -> S + Sync),
    f: &(dyn Fn(&mut S, &T) -> R + Sync),
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const CHUNK: usize = 32;
    let chunks: Vec<&[T]> = items.chunks(CHUNK).collect();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(chunks.len()).max(1);
    let (next, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut parts: Vec<(usize, Vec<R>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    let mut state = init();
                    loop {
                        let c = next.fetch_add(1, Ordering::Relaxed);
                        let Some(part) = chunks.get(c) else { break };
                        out.push((c, part.iter().map(|x| f(&mut state, x)).collect::<Vec<R>>()));
                        progress(done.fetch_add(part.len(), Ordering::Relaxed) + part.len(), items.len());
                    }
                    out
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("workers do not panic")).collect()
    });
    parts.sort_by_key(|(c, _)| *c);
    parts.into_iter().flat_map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_come_back_in_order_and_progress_reaches_the_total() {
        for n in [0usize, 1, 31, 32, 33, 1000] {
            let items: Vec<usize> = (0..n).collect();
            let last = AtomicUsize::new(0);
            let out = par_map(&items, &|x| x * 3, &|done, total| {
                assert_eq!(total, n);
                last.fetch_max(done, Ordering::Relaxed);
            });
            assert_eq!(out, items.iter().map(|x| x * 3).collect::<Vec<_>>());
            assert_eq!(last.load(Ordering::Relaxed), n);
        }
    }

    #[test]
    fn each_worker_keeps_its_state() {
        // Each worker counts the items it has seen: the counts of one worker run 1, 2, ..., so
        // count k is seen at most as often as count k - 1, and count 1 once per busy worker.
        let items: Vec<usize> = (0..1000).collect();
        let out = par_map_with(&items, &|| 0usize, &|seen, x| {
            *seen += 1;
            (*x, *seen)
        }, &|_, _| {});
        assert_eq!(out.iter().map(|p| p.0).collect::<Vec<_>>(), items);
        let times = |k: usize| out.iter().filter(|p| p.1 == k).count();
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        assert!((1..=workers).contains(&times(1)));
        assert!((2..=1000).all(|k| times(k) <= times(k - 1)));
    }
}
