//! Mask selection shared by every method: given a score per weight (higher = more worth
//! keeping), drop exactly `k` columns from each row, or from each group of G rows together.

use super::Pattern;

/// `scores (c_out, cols)` → `pruned (c_out, cols)`. `k` counts the pattern's units
/// ([`Pattern::unit`]: one column, or G columns for 1×G) to drop from each row (unstructured,
/// 1×G) or from each group of `pattern.group()` consecutive rows (G×1, scoring a column by the
/// sum over its rows); a 1×G unit scores the sum over its columns. N:M ignores `k` and drops the
/// M − N lowest of every aligned run of M columns. `cols` is a multiple of
/// [`Pattern::align`]. Ties go to the lower column index, so masks are deterministic.
pub fn select(scores: &[f64], c_out: usize, cols: usize, k: usize, pattern: Pattern) -> Vec<bool> {
    debug_assert_eq!(scores.len(), c_out * cols);
    debug_assert_eq!(cols % pattern.align(), 0);
    if let Pattern::NofM(n, m) = pattern {
        return select_n_of_m(scores, c_out, cols, n, m);
    }
    let (g, u) = (pattern.group(), pattern.unit());
    let units = cols / u;
    let k = k.min(units);
    // pruned (c_out, cols)
    let mut pruned = vec![false; c_out * cols];
    // group_score (units,): one row group's score per unit of columns
    let mut group_score = vec![0.0f64; units];
    // order (units,): unit indices, partially sorted by group score
    let mut order: Vec<usize> = Vec::with_capacity(units);
    for r0 in (0..c_out).step_by(g) {
        let rows = r0..(r0 + g).min(c_out);
        group_score.fill(0.0);
        for r in rows.clone() {
            for (c, s) in scores[r * cols..(r + 1) * cols].iter().enumerate() {
                group_score[c / u] += s;
            }
        }
        order.clear();
        order.extend(0..units);
        // Partial selection: only which k are lowest matters, not their order.
        if k > 0 && k < units {
            order.select_nth_unstable_by(k - 1, |&a, &b| {
                group_score[a].total_cmp(&group_score[b]).then(a.cmp(&b))
            });
        }
        for r in rows {
            for &c in &order[..k] {
                pruned[r * cols + c * u..][..u].fill(true);
            }
        }
    }
    pruned
}

/// N:M: in each row, each aligned run of `m` columns drops its `m − n` lowest scores.
fn select_n_of_m(scores: &[f64], c_out: usize, cols: usize, n: usize, m: usize) -> Vec<bool> {
    let mut pruned = vec![false; c_out * cols];
    let mut idx: Vec<usize> = Vec::with_capacity(m);
    for (run, out) in scores.chunks_exact(m).zip(pruned.chunks_exact_mut(m)) {
        idx.clear();
        idx.extend(0..m);
        idx.sort_by(|&a, &b| run[a].total_cmp(&run[b]).then(a.cmp(&b)));
        for &i in &idx[..m - n] {
            out[i] = true;
        }
    }
    debug_assert_eq!(pruned.len(), c_out * cols);
    pruned
}

/// Columns to drop from each row within columns `lo..hi` of a row of `c_in` so that the
/// per-block counts add up to exactly `total` over the whole row (cumulative rounding).
pub fn per_block(total: usize, c_in: usize, lo: usize, hi: usize) -> usize {
    let upto = |c: usize| (total * c + c_in / 2) / c_in.max(1);
    upto(hi) - upto(lo)
}
