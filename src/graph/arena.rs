//! Buffer assignment for a plan: every value gets a region of one arena, reused once the value
//! is dead, so an inference allocates nothing. Views share their source's region.

/// `len` floats at `off` in the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub off: usize,
    pub len: usize,
}

impl Region {
    pub fn end(&self) -> usize {
        self.off + self.len
    }
    pub fn overlaps(&self, o: &Region) -> bool {
        self.off < o.end() && o.off < self.end()
    }
}

/// First-fit allocator over a growing arena; `size()` is the peak.
#[derive(Debug, Default)]
pub struct Allocator {
    /// free (off, len) segments, sorted by offset, coalesced
    free: Vec<Region>,
    top: usize,
}

impl Allocator {
    pub fn alloc(&mut self, len: usize) -> Region {
        if let Some(i) = self.free.iter().position(|f| f.len >= len) {
            let f = self.free[i];
            if f.len == len {
                self.free.remove(i);
            } else {
                self.free[i] = Region {
                    off: f.off + len,
                    len: f.len - len,
                };
            }
            return Region { off: f.off, len };
        }
        // Grow: reuse a free segment that touches the top.
        let start = match self.free.last() {
            Some(f) if f.end() == self.top => {
                let f = self.free.pop().expect("checked");
                f.off
            }
            _ => self.top,
        };
        self.top = start + len;
        Region { off: start, len }
    }

    pub fn release(&mut self, r: Region) {
        let i = self.free.partition_point(|f| f.off < r.off);
        self.free.insert(i, r);
        // Coalesce with the neighbours.
        if i + 1 < self.free.len() && self.free[i].end() == self.free[i + 1].off {
            self.free[i].len += self.free[i + 1].len;
            self.free.remove(i + 1);
        }
        if i > 0 && self.free[i - 1].end() == self.free[i].off {
            self.free[i - 1].len += self.free[i].len;
            self.free.remove(i);
        }
    }

    pub fn size(&self) -> usize {
        self.top
    }
}

/// Splits `arena` into one writable region and any number of readable ones that do not overlap
/// it (the plan guarantees that: a step's inputs are live while its output is allocated).
pub fn split<'a, const N: usize>(
    arena: &'a mut [f32],
    reads: [Region; N],
    write: Region,
) -> ([&'a [f32]; N], &'a mut [f32]) {
    let (before, rest) = arena.split_at_mut(write.off);
    let (out, after) = rest.split_at_mut(write.len);
    let (before, after): (&'a [f32], &'a [f32]) = (before, after);
    let ins = reads.map(|r| {
        assert!(
            !r.overlaps(&write),
            "plan invariant: read {r:?} overlaps write {write:?}"
        );
        if r.end() <= write.off {
            &before[r.off..r.end()]
        } else {
            &after[r.off - write.end()..r.end() - write.end()]
        }
    });
    (ins, out)
}
