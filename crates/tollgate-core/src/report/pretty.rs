//! Large lists in pretty-printed reports, rendered in parallel and spliced into the document:
//! the text is byte for byte what one `serde_json::to_writer_pretty` would give.

use std::io::Write;

/// The serializer each item is written with.
pub(super) type Ser<'a> = serde_json::Serializer<&'a mut Vec<u8>, Nested>;

/// Writes `frame`, a pretty-printed document whose list at `slot` is empty, with that list
/// holding `items`, each serialized by `item`. `slot` is the text from the line break
/// before the key through `[]` (its indentation makes it unique); `depth` is the indentation
/// level of the list's items.
pub(super) fn write_spliced<T: Sync>(
    frame: &str,
    slot: &str,
    depth: usize,
    items: &[T],
    item: impl Fn(&T, &mut Ser<'_>) -> serde_json::Result<()> + Sync,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let Some(at) = frame.find(slot).filter(|_| !items.is_empty()) else {
        return out.write_all(frame.as_bytes());
    };
    let (head, tail) = frame.split_at(at + slot.len() - 2);
    out.write_all(head.as_bytes())?;
    out.write_all(b"[")?;
    let indent = "  ".repeat(depth);
    write_items(items, &item, depth, &indent, out)?;
    out.write_all(b"\n")?;
    out.write_all(&indent.as_bytes()[2..])?;
    out.write_all(b"]")?;
    out.write_all(&tail.as_bytes()[2..])
}

/// Items a batch at a time: rendered in parallel, written in order, so memory stays bounded.
fn write_items<T: Sync>(
    items: &[T],
    item: &(impl Fn(&T, &mut Ser<'_>) -> serde_json::Result<()> + Sync),
    depth: usize,
    indent: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    use rayon::prelude::*;
    const BLOCK: usize = 512;
    let batch = BLOCK * 4 * rayon::current_num_threads();
    for (b, chunk) in items.chunks(batch).enumerate() {
        let blocks: Vec<Vec<u8>> = chunk
            .par_chunks(BLOCK)
            .enumerate()
            .map(|(i, block)| {
                let mut buf = Vec::with_capacity(block.len() * 800);
                for (j, value) in block.iter().enumerate() {
                    if b > 0 || i > 0 || j > 0 {
                        buf.push(b',');
                    }
                    buf.push(b'\n');
                    buf.extend_from_slice(indent.as_bytes());
                    let mut ser =
                        serde_json::Serializer::with_formatter(&mut buf, Nested::at(depth));
                    // Serializing to memory fails only on a map with non-string keys; report
                    // items have none.
                    let _ = item(value, &mut ser);
                }
                buf
            })
            .collect();
        for block in blocks {
            out.write_all(&block)?;
        }
    }
    Ok(())
}

/// serde_json's pretty layout (two spaces a level), starting some levels in, so a value
/// rendered on its own splices into the document exactly where one serialization puts it.
pub(super) struct Nested {
    indent: usize,
    has_value: bool,
}

impl Nested {
    fn at(indent: usize) -> Self {
        Nested {
            indent,
            has_value: false,
        }
    }

    fn newline<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.indent {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(c)
    }

    fn close<W: ?Sized + std::io::Write>(&mut self, w: &mut W, c: &[u8]) -> std::io::Result<()> {
        self.indent -= 1;
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(c)
    }

    fn item<W: ?Sized + std::io::Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::json;

    #[test]
    fn spliced_lists_match_one_serialization_at_any_depth() {
        let items: Vec<serde_json::Value> = (0..3000)
            .map(|i| match i % 4 {
                0 => json!({"a": [], "b": {}, "c": [1, [2, {"d": "x\ny"}]]}),
                1 => json!("plain \"quoted\""),
                2 => json!([{"e": null}, []]),
                _ => json!(i),
            })
            .collect();
        for depth in [2usize, 4] {
            // A document whose list's items sit at indentation level `depth`.
            let nest = |list: serde_json::Value| {
                let mut v = json!({ "before": 1, "list": list, "after": true });
                for _ in 0..depth - 2 {
                    v = json!({ "x": v });
                }
                v
            };
            let frame = serde_json::to_string_pretty(&nest(json!([]))).unwrap();
            let slot = format!("\n{}\"list\": []", "  ".repeat(depth - 1));
            let mut out = Vec::new();
            write_spliced(
                &frame,
                &slot,
                depth,
                &items,
                |v, s| v.serialize(s),
                &mut out,
            )
            .unwrap();
            let whole = serde_json::to_string_pretty(&nest(json!(items))).unwrap();
            let out = String::from_utf8(out).unwrap();
            let differs = out.bytes().zip(whole.bytes()).position(|(a, b)| a != b);
            assert!(
                out == whole,
                "depth {depth}: lengths {} and {}, first difference at {differs:?}",
                out.len(),
                whole.len()
            );
        }
        // An empty list leaves the frame as it is.
        let mut out = Vec::new();
        write_spliced(
            "{\n  \"list\": []\n}",
            "\n  \"list\": []",
            2,
            &[] as &[u8],
            |v, s| v.serialize(s),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, b"{\n  \"list\": []\n}");
    }
}
