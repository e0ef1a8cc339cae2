//! Multi-row statements: one round trip writes many rows.
//!
//! Both drivers cache prepared statements by their SQL text, so a statement
//! for every possible row count would be prepared again and again. Batches
//! are therefore cut into a few fixed sizes ([`chunk_sizes`]): at most four
//! shapes of each statement exist, and each is prepared once per connection.
//!
//! On SQLite the placeholders are bare `?`: SQLite looks a numbered or named
//! parameter up by walking a list, which makes binding hundreds of `$N`
//! quadratic, while bare ones bind in order at no cost. PostgreSQL needs `$N`.

use super::Backend;

/// Row counts a multi-row statement is prepared for, largest first.
const SIZES: [usize; 4] = [64, 16, 4, 1];

/// Cuts `n` rows into chunks whose sizes are all in [`SIZES`], largest first.
pub fn chunk_sizes(n: usize) -> Vec<usize> {
    let mut left = n;
    let mut out = Vec::new();
    for size in SIZES {
        while left >= size {
            out.push(size);
            left -= size;
        }
    }
    out
}

/// Splits `items` into the chunks of [`chunk_sizes`].
pub fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut start = 0;
    chunk_sizes(items.len()).into_iter().map(move |size| {
        let chunk = &items[start..start + size];
        start += size;
        chunk
    })
}

fn placeholder(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => "?".to_string(),
        Backend::Postgres => format!("${n}"),
    }
}

/// `($1, $2, $3), ($4, $5, $6)` for `rows` rows of `cols` parameters (`?` on SQLite).
/// Every parameter of the statement must be in it, bound in order.
pub fn values(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push_str(&placeholder(backend, r * cols + c + 1));
        }
        s.push(')');
    }
    s
}

/// `$first, …, $(first + n - 1)` (`?` on SQLite), for a statement whose
/// parameters all appear in the order they are bound.
pub fn params(backend: Backend, first: usize, n: usize) -> String {
    (first..first + n).map(|i| placeholder(backend, i)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Backend::{Postgres, Sqlite};

    #[test]
    fn chunk_sizes_cover_every_row_with_few_shapes() {
        for n in 0..300 {
            let sizes = chunk_sizes(n);
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|s| SIZES.contains(s)));
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest first: {sizes:?}");
        }
        assert_eq!(chunk_sizes(0), Vec::<usize>::new());
        assert_eq!(chunk_sizes(85), vec![64, 16, 4, 1]);
        assert_eq!(chunk_sizes(3), vec![1, 1, 1]);
    }

    #[test]
    fn chunks_keep_order() {
        let items: Vec<usize> = (0..23).collect();
        let parts: Vec<&[usize]> = chunks(&items).collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![16, 4, 1, 1, 1]);
        assert_eq!(parts.concat(), items);
    }

    #[test]
    fn placeholders() {
        assert_eq!(values(Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values(Sqlite, 2, 3), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(values(Postgres, 1, 1), "($1)");
        assert_eq!(params(Postgres, 2, 3), "$2, $3, $4");
        assert_eq!(params(Sqlite, 1, 2), "?, ?");
    }
}
