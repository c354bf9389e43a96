//! The activation buffer pool lowering assigns from (see the module docs for why buffers,
//! not one arena).

use super::Slot;

/// Buffers reused by liveness: `alloc` takes the free buffer closest in size.
#[derive(Debug, Default)]
pub(super) struct SlotPool {
    /// floats per buffer
    pub len: Vec<usize>,
    free: Vec<Slot>,
}

impl SlotPool {
    pub fn alloc(&mut self, n: usize) -> Slot {
        // Smallest free buffer that fits; else the largest free one, grown; else a new one.
        let fits = self
            .free
            .iter()
            .enumerate()
            .filter(|&(_, &s)| self.len[s] >= n)
            .min_by_key(|&(_, &s)| self.len[s]);
        let pick = fits.or_else(|| {
            self.free
                .iter()
                .enumerate()
                .max_by_key(|&(_, &s)| self.len[s])
        });
        if let Some((i, &s)) = pick {
            self.free.swap_remove(i);
            self.len[s] = self.len[s].max(n);
            return s;
        }
        self.len.push(n);
        self.len.len() - 1
    }

    pub fn release(&mut self, s: Slot) {
        self.free.push(s);
    }
}
