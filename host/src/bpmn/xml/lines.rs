//! Byte offset → line and column, for diagnostics and script line numbers.

use std::cell::Cell;

use crate::bpmn::spec::Position;

/// The line starts of one input, built once, so that each lookup is a binary
/// search instead of a scan from the top of the file.
pub(in crate::bpmn) struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of the first character of each line.
    starts: Vec<usize>,
    /// The last answer `(offset, line, column)`: the parser asks for positions
    /// in document order, so counting columns from the previous answer keeps a
    /// huge one-line (minified) file linear instead of quadratic.
    last: Cell<(usize, u32, u32)>,
}

impl<'a> LineIndex<'a> {
    pub(in crate::bpmn) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex {
            text,
            starts,
            last: Cell::new((0, 1, 1)),
        }
    }

    /// The 1-based line of a byte offset (clamped to the input).
    pub(in crate::bpmn) fn line(&self, offset: usize) -> u32 {
        let offset = offset.min(self.text.len());
        to_u32(self.starts.partition_point(|&s| s <= offset))
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub(in crate::bpmn) fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line(offset);
        let line_start = self.starts[line as usize - 1];
        let (last_offset, last_line, last_column) = self.last.get();
        let column = if last_line == line && last_offset <= offset {
            last_column + to_u32(self.text[last_offset..offset].chars().count())
        } else {
            1 + to_u32(self.text[line_start..offset].chars().count())
        };
        self.last.set((offset, line, column));
        Position { line, column }
    }

    /// The position just past the last character (where a truncated file ends).
    pub(in crate::bpmn) fn end(&self) -> Position {
        self.position(self.text.len())
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: u32, column: u32) -> Position {
        Position { line, column }
    }

    #[test]
    fn lines_and_columns() {
        let idx = LineIndex::new("ab\ncé\n\nxyz");
        assert_eq!(idx.position(0), pos(1, 1));
        assert_eq!(idx.position(2), pos(1, 3));
        assert_eq!(idx.position(3), pos(2, 1));
        // `é` is two bytes but one column.
        assert_eq!(idx.position(6), pos(2, 3));
        // Out-of-order lookups and offsets inside a character.
        assert_eq!(idx.position(5), pos(2, 2));
        assert_eq!(idx.position(7), pos(3, 1));
        assert_eq!(idx.position(10), pos(4, 3));
        assert_eq!(idx.position(1000), pos(4, 4));
        assert_eq!(idx.end(), pos(4, 4));
        assert_eq!(idx.line(4), 2);
    }
}
