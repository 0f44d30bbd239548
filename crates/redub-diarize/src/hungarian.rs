//! Minimum-cost one-to-one assignment (the Hungarian method) for rectangular matrices.
//!
//! Two places need it: the diarization error rate maps hypothesis speakers to reference speakers
//! so that their shared time is largest, and chunk matching pairs a chunk's local speakers with
//! global speakers (or with "new speaker" columns). Both are small (tens of labels), but a greedy
//! match is wrong often enough to change a DER or merge two people, so we solve it exactly.
//! This is the shortest-augmenting-path form with row and column potentials (Kuhn–Munkres as
//! written by Jonker–Volgenant style solvers): O(n²·m) for n ≤ m, no dependency.

/// For each row of `cost`, the column it is assigned to (`None` when it gets none), so that the
/// total cost is as small as possible and no column is used twice.
///
/// The matrix may be rectangular either way, and may have no rows or no columns: then
/// `min(rows, cols)` rows get a column and the others `None`. Rows shorter than the longest row
/// are treated as if the missing cells were forbidden.
///
/// Forbidden pairs: a non-finite cell (NaN or ±∞) means "this row may not take this column".
/// The solver first uses as few forbidden cells as possible, then minimises the cost; a row that
/// could only be placed on a forbidden cell gets `None`. Callers that want "no match when too
/// expensive" should add dummy columns at the threshold cost instead (as chunk matching does).
///
/// To maximise (e.g. shared time), pass the negated values.
pub fn assign(cost: &[Vec<f64>]) -> Vec<Option<usize>> {
    let rows = cost.len();
    let cols = cost.iter().map(Vec::len).max().unwrap_or(0);
    if rows == 0 || cols == 0 {
        return vec![None; rows];
    }

    // Forbidden cells get a penalty larger than any sum of allowed cells, so a solution with
    // fewer forbidden cells always wins, and the arithmetic stays finite (NaN would break the
    // comparisons the algorithm relies on).
    let finite_sum: f64 = cost.iter().flatten().filter(|c| c.is_finite()).map(|c| c.abs()).sum();
    let penalty = 2.0 * finite_sum + 1.0;
    let cell = |r: usize, c: usize| -> (f64, bool) {
        match cost[r].get(c) {
            Some(v) if v.is_finite() => (*v, true),
            _ => (penalty, false),
        }
    };

    // The core solver needs rows ≤ cols: transpose when there are more rows.
    let transpose = rows > cols;
    let (n, m) = if transpose { (cols, rows) } else { (rows, cols) };
    let matrix: Vec<Vec<f64>> =
        (0..n).map(|i| (0..m).map(|j| if transpose { cell(j, i).0 } else { cell(i, j).0 }).collect()).collect();
    let row_to_col = solve(&matrix, m);

    let mut out = vec![None; rows];
    for (i, j) in row_to_col.into_iter().enumerate() {
        let Some(j) = j else { continue };
        let (r, c) = if transpose { (j, i) } else { (i, j) };
        if cell(r, c).1 {
            out[r] = Some(c);
        }
    }
    out
}

/// The potentials solver on an n × m matrix with n ≤ m and finite cells: every row gets a
/// column. Indices are shifted by one inside so that row/column 0 can be the "virtual" start of
/// each augmenting path.
fn solve(a: &[Vec<f64>], m: usize) -> Vec<Option<usize>> {
    let n = a.len();
    let mut u = vec![0.0f64; n + 1]; // row potentials
    let mut v = vec![0.0f64; m + 1]; // column potentials
    let mut p = vec![0usize; m + 1]; // p[j] = row (1-based) holding column j, 0 = free
    let mut way = vec![0usize; m + 1]; // previous column on the shortest path

    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0usize;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0usize;
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let reduced = a[i0 - 1][j - 1] - u[i0] - v[j];
                if reduced < minv[j] {
                    minv[j] = reduced;
                    way[j] = j0;
                }
                if minv[j] < delta {
                    delta = minv[j];
                    j1 = j;
                }
            }
            if j1 == 0 {
                // Cannot happen with n ≤ m and finite cells (a free column always remains);
                // stop rather than loop forever if it ever did.
                break;
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        // Flip the augmenting path back to its start.
        while j0 != 0 {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        }
    }

    let mut row_to_col = vec![None; n];
    for j in 1..=m {
        if p[j] != 0 {
            row_to_col[p[j] - 1] = Some(j - 1);
        }
    }
    row_to_col
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tiny deterministic generator (xorshift64*) so the random tests repeat exactly.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn total(cost: &[Vec<f64>], a: &[Option<usize>]) -> f64 {
        a.iter().enumerate().filter_map(|(r, c)| c.map(|c| cost[r][c])).sum()
    }

    /// Checks one-to-one and that exactly min(rows, cols) rows are assigned.
    fn check_valid(cost: &[Vec<f64>], a: &[Option<usize>]) {
        let rows = cost.len();
        let cols = cost.first().map_or(0, Vec::len);
        assert_eq!(a.len(), rows);
        let mut seen = vec![false; cols];
        for c in a.iter().flatten() {
            assert!(*c < cols);
            assert!(!seen[*c], "column {c} used twice: {a:?}");
            seen[*c] = true;
        }
        assert_eq!(a.iter().flatten().count(), rows.min(cols));
    }

    /// Minimum over all injective maps of the smaller side into the larger.
    fn brute(cost: &[Vec<f64>]) -> f64 {
        fn rec(cost: &[Vec<f64>], r: usize, used: &mut Vec<bool>, transpose: bool, n: usize) -> f64 {
            if r == n {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for c in 0..used.len() {
                if used[c] {
                    continue;
                }
                used[c] = true;
                let here = if transpose { cost[c][r] } else { cost[r][c] };
                best = best.min(here + rec(cost, r + 1, used, transpose, n));
                used[c] = false;
            }
            best
        }
        let rows = cost.len();
        let cols = cost.first().map_or(0, Vec::len);
        if rows == 0 || cols == 0 {
            return 0.0;
        }
        if rows <= cols {
            rec(cost, 0, &mut vec![false; cols], false, rows)
        } else {
            rec(cost, 0, &mut vec![false; rows], true, cols)
        }
    }

    #[test]
    fn empty_inputs() {
        assert!(assign(&[]).is_empty());
        assert_eq!(assign(&[vec![], vec![]]), vec![None, None]);
    }

    #[test]
    fn square_by_hand() {
        // Greedy would take (0,0)=1 and then be forced into (1,1)=100; optimum is 2 + 3.
        let cost = vec![vec![1.0, 2.0], vec![3.0, 100.0]];
        assert_eq!(assign(&cost), vec![Some(1), Some(0)]);
    }

    #[test]
    fn classic_3x3() {
        let cost = vec![vec![4.0, 1.0, 3.0], vec![2.0, 0.0, 5.0], vec![3.0, 2.0, 2.0]];
        let a = assign(&cost);
        assert_eq!(a, vec![Some(1), Some(0), Some(2)]);
        assert_eq!(total(&cost, &a), 5.0);
    }

    #[test]
    fn more_rows_than_columns() {
        let cost = vec![vec![5.0], vec![1.0], vec![3.0]];
        assert_eq!(assign(&cost), vec![None, Some(0), None]);
    }

    #[test]
    fn more_columns_than_rows() {
        let cost = vec![vec![5.0, 4.0, 1.0, 9.0]];
        assert_eq!(assign(&cost), vec![Some(2)]);
    }

    #[test]
    fn negative_costs_maximise() {
        // Maximising shared time: pass −M.
        let m = [[10.0, 2.0], [9.0, 0.0]];
        let cost: Vec<Vec<f64>> = m.iter().map(|r| r.iter().map(|x| -x).collect()).collect();
        assert_eq!(assign(&cost), vec![Some(1), Some(0)]); // 2 + 9 = 11 > 10 + 0
    }

    #[test]
    fn forbidden_cells() {
        let inf = f64::INFINITY;
        // Row 0 may only take column 1, even though column 0 is cheaper for it.
        let cost = vec![vec![inf, 50.0], vec![1.0, 2.0]];
        assert_eq!(assign(&cost), vec![Some(1), Some(0)]);
        // Both rows can only take column 0: one gets it, the other None.
        let cost = vec![vec![1.0, f64::NAN], vec![2.0, inf]];
        assert_eq!(assign(&cost), vec![Some(0), None]);
        // Ragged rows: the missing cell is forbidden.
        let cost = vec![vec![1.0], vec![0.0, 3.0]];
        assert_eq!(assign(&cost), vec![Some(0), Some(1)]);
    }

    #[test]
    fn matches_brute_force_on_random_matrices() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for trial in 0..3000 {
            let rows = rng.below(7) as usize;
            let cols = rng.below(7) as usize;
            // Small integer costs make ties common (the hard case for bookkeeping); some trials
            // use a wider, signed range.
            let range = if trial % 3 == 0 { 5 } else { 1000 };
            let signed = trial % 2 == 0;
            let cost: Vec<Vec<f64>> = (0..rows)
                .map(|_| {
                    (0..cols)
                        .map(|_| {
                            let x = rng.below(range) as f64;
                            if signed {
                                x - (range / 2) as f64
                            } else {
                                x
                            }
                        })
                        .collect()
                })
                .collect();
            let a = assign(&cost);
            check_valid(&cost, &a);
            let got = total(&cost, &a);
            let want = brute(&cost);
            assert!((got - want).abs() < 1e-9, "trial {trial}: {cost:?} → {a:?} costs {got}, optimum {want}");
        }
    }

    #[test]
    fn fractional_costs_match_brute_force() {
        let mut rng = Rng(42);
        for trial in 0..500 {
            let rows = 1 + rng.below(6) as usize;
            let cols = 1 + rng.below(6) as usize;
            let cost: Vec<Vec<f64>> = (0..rows)
                .map(|_| (0..cols).map(|_| (rng.below(1 << 30) as f64) / f64::from(1u32 << 30) - 0.5).collect())
                .collect();
            let a = assign(&cost);
            check_valid(&cost, &a);
            let (got, want) = (total(&cost, &a), brute(&cost));
            assert!((got - want).abs() < 1e-9, "trial {trial}: {got} vs {want}");
        }
    }

    #[test]
    fn larger_matrix_is_fast_and_valid() {
        let mut rng = Rng(7);
        let cost: Vec<Vec<f64>> = (0..200).map(|_| (0..300).map(|_| rng.below(10_000) as f64).collect()).collect();
        let a = assign(&cost);
        check_valid(&cost, &a);
        // Identity-like structure: cheap diagonal must be found exactly.
        let diag: Vec<Vec<f64>> =
            (0..50).map(|i| (0..50).map(|j| if i == j { 0.0 } else { 1.0 + ((i * j) % 7) as f64 }).collect()).collect();
        assert_eq!(assign(&diag), (0..50).map(Some).collect::<Vec<_>>());
    }
}
