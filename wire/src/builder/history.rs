//! Undo and redo for the builder: snapshots of the draft before each edit.
//! Typing in one field is one edit, not one per key, so undo takes back the
//! whole word run rather than a letter.

/// How many edits can be undone.
pub const DEPTH: usize = 200;

#[derive(Debug, Clone)]
pub struct History<T> {
    past: Vec<T>,
    future: Vec<T>,
    /// The field the last edit typed into, while the typing goes on.
    typing: Option<String>,
}

impl<T> Default for History<T> {
    fn default() -> Self {
        Self { past: Vec::new(), future: Vec::new(), typing: None }
    }
}

impl<T: Clone> History<T> {
    /// Notes the draft as it was before an edit. `field` names the input
    /// being typed into; a run of edits to the same field is noted once.
    pub fn record(&mut self, before: &T, field: Option<&str>) {
        let same_field = field.is_some() && self.typing.as_deref() == field;
        if !same_field {
            self.past.push(before.clone());
            if self.past.len() > DEPTH {
                self.past.remove(0);
            }
        }
        self.typing = field.map(str::to_string);
        self.future.clear();
    }

    /// The draft before the last edit, if any; `current` becomes redoable.
    pub fn undo(&mut self, current: T) -> Option<T> {
        let before = self.past.pop()?;
        self.future.push(current);
        self.typing = None;
        Some(before)
    }

    pub fn redo(&mut self, current: T) -> Option<T> {
        let after = self.future.pop()?;
        self.past.push(current);
        self.typing = None;
        Some(after)
    }

    pub fn can_undo(&self) -> bool {
        !self.past.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.future.is_empty()
    }

    /// Ends a typing run (the field lost focus), so the next keystroke is a new edit.
    pub fn settle(&mut self) {
        self.typing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_in_one_field_undoes_as_one_edit() {
        let mut h = History::default();
        let mut doc = String::new();
        for c in "24h".chars() {
            h.record(&doc, Some("a.duration"));
            doc.push(c);
        }
        h.record(&doc, Some("a.to"));
        doc.push('!');
        assert_eq!(h.undo(doc.clone()).as_deref(), Some("24h"));
        assert_eq!(h.undo("24h".into()).as_deref(), Some(""));
        assert!(h.undo(String::new()).is_none());
        assert_eq!(h.redo(String::new()).as_deref(), Some("24h"));
        assert_eq!(h.redo("24h".into()).as_deref(), Some("24h!"));
        assert!(!h.can_redo());
    }

    #[test]
    fn a_new_edit_after_undo_drops_the_redo_branch() {
        let mut h = History::default();
        h.record(&1, None);
        let back = h.undo(2).unwrap();
        assert_eq!(back, 1);
        h.record(&back, None);
        assert!(!h.can_redo());
        assert!(h.can_undo());
    }

    #[test]
    fn structural_edits_are_one_each_and_settle_ends_typing() {
        let mut h = History::default();
        h.record(&0, Some("f"));
        h.settle();
        h.record(&1, Some("f"));
        h.record(&2, None);
        h.record(&3, None);
        assert_eq!(h.undo(4), Some(3));
        assert_eq!(h.undo(3), Some(2));
        assert_eq!(h.undo(2), Some(1));
        assert_eq!(h.undo(1), Some(0));
    }

    #[test]
    fn depth_is_bounded() {
        let mut h = History::default();
        for i in 0..(DEPTH + 50) {
            h.record(&i, None);
        }
        let mut n = 0;
        let mut cur = DEPTH + 50;
        while let Some(prev) = h.undo(cur) {
            cur = prev;
            n += 1;
        }
        assert_eq!(n, DEPTH);
        assert_eq!(cur, 50);
    }
}
