//! One key's ops as call and return events in time order, and the positions the search's state
//! is expressed in.
//!
//! Events are sorted by time; at equal times calls come first, so intervals are closed (an op
//! that returns at t is concurrent with one invoked at t, DESIGN.md section 3), as in Porcupine.
//! The determinate ops' events sit in a doubly linked list; linearizing an op *lifts* its call
//! and return out of the list and backtracking restores them (dancing links). The ops that may
//! take effect next are the calls before the first return left in the list.
//!
//! Indeterminate (`info`) ops have a call and no return, and are not in the list: the search
//! never takes one as a step of its own (see [`super::search`]). What matters about one is when
//! it becomes available, expressed, like everything the search remembers, in *return
//! positions*: the determinate ops numbered in the order of their returns. An info op is
//! available once the first return left in the list has a position at or past the first
//! return after its call.

use super::key_history::KeyOp;

/// No node / no op.
pub const NIL: u32 = u32::MAX;
/// The list's head sentinel.
pub const HEAD: u32 = 0;

/// The event list of one key and the positions of its ops.
#[derive(Debug, Clone)]
pub struct Events {
    /// Per node (0 is the head): the op, whether it is its call, and the links.
    pub op: Vec<u32>,
    pub is_call: Vec<bool>,
    pub next: Vec<u32>,
    pub prev: Vec<u32>,
    /// Per op: its call and return nodes (NIL for an info op).
    pub call_node: Vec<u32>,
    pub ret_node: Vec<u32>,
    /// Per op: a determinate op's return position; an info op's first available position.
    pub pos: Vec<u32>,
    /// Per return position: its op.
    pub at_pos: Vec<u32>,
    /// Per op: how many returns precede its call (an info op's `pos`).
    pub called_at: Vec<u32>,
    /// Info ops in call order.
    pub info: Vec<u32>,
}

impl Events {
    /// Sorts the events of `ops` and links the determinate ones.
    pub fn new(ops: &[KeyOp]) -> Events {
        let mut sorted: Vec<(u64, bool, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            sorted.push((op.start, false, i as u32));
            if let Some(end) = op.end {
                sorted.push((end, true, i as u32));
            }
        }
        sorted.sort_unstable();
        let nodes = sorted.len() - ops.iter().filter(|o| o.end.is_none()).count() + 1;
        let mut ev = Events {
            op: Vec::with_capacity(nodes),
            is_call: Vec::with_capacity(nodes),
            next: Vec::with_capacity(nodes),
            prev: Vec::with_capacity(nodes),
            call_node: vec![NIL; ops.len()],
            ret_node: vec![NIL; ops.len()],
            pos: vec![0; ops.len()],
            at_pos: Vec::new(),
            called_at: vec![0; ops.len()],
            info: Vec::new(),
        };
        ev.push_node(NIL, true);
        for &(_, is_return, op) in &sorted {
            let i = op as usize;
            if !is_return {
                ev.called_at[i] = ev.at_pos.len() as u32;
            }
            if ops[i].end.is_none() {
                ev.pos[i] = ev.at_pos.len() as u32;
                ev.info.push(op);
                continue;
            }
            let node = ev.push_node(op, !is_return);
            if is_return {
                ev.ret_node[i] = node;
                ev.pos[i] = ev.at_pos.len() as u32;
                ev.at_pos.push(op);
            } else {
                ev.call_node[i] = node;
            }
        }
        ev
    }

    fn push_node(&mut self, op: u32, is_call: bool) -> u32 {
        let node = self.op.len() as u32;
        self.op.push(op);
        self.is_call.push(is_call);
        self.prev.push(node.wrapping_sub(1));
        self.next.push(NIL);
        if node > 0 {
            self.next[node as usize - 1] = node;
        }
        node
    }

    /// Takes `node` out of the list; its own links stay, for [`Events::restore`].
    pub fn remove(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    /// Puts back a node taken out by [`Events::remove`]; nodes go back in the reverse order.
    pub fn restore(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = node;
        if n != NIL {
            self.prev[n as usize] = node;
        }
    }

    /// The first return left in the list at or after `node`, or NIL when none is left.
    pub fn first_return_from(&self, mut node: u32) -> u32 {
        while node != NIL && self.is_call[node as usize] {
            node = self.next[node as usize];
        }
        node
    }

    /// Number of determinate ops (return positions).
    pub fn positions(&self) -> usize {
        self.at_pos.len()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.op.capacity() * 13
            + (self.call_node.capacity() + self.ret_node.capacity() + self.pos.capacity()) * 4
            + (self.at_pos.capacity() + self.called_at.capacity() + self.info.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizable::model::RegisterInput;

    fn op(start: u64, end: Option<u64>) -> KeyOp {
        KeyOp::new(RegisterInput::Write(1), start, end, start)
    }

    #[test]
    fn positions_follow_returns_and_info_ops_stay_out_of_the_list() {
        // op 0 [0, 5], op 1 info from 1, op 2 [2, 3], op 3 info from 3, op 4 info from 4.
        let ops = [
            op(0, Some(5)),
            op(1, None),
            op(2, Some(3)),
            op(3, None),
            op(4, None),
        ];
        let ev = Events::new(&ops);
        assert_eq!(ev.at_pos, vec![2, 0]);
        assert_eq!((ev.pos[2], ev.pos[0]), (0, 1));
        assert_eq!(ev.info, vec![1, 3, 4]);
        // op 3's call ties op 2's return and comes first (closed intervals): both are available
        // while op 2's return is the first left; op 4 only after it.
        assert_eq!((ev.pos[1], ev.pos[3], ev.pos[4]), (0, 0, 1));
        let mut ev = Events::new(&[op(0, Some(5)), op(5, Some(6))]);
        let order: Vec<(u32, bool)> = std::iter::successors(Some(ev.next[0]), |&n| {
            Some(ev.next[n as usize]).filter(|&x| x != NIL)
        })
        .map(|n| (ev.op[n as usize], ev.is_call[n as usize]))
        .collect();
        assert_eq!(order, vec![(0, true), (1, true), (0, false), (1, false)]);
        let first = ev.first_return_from(ev.next[0]);
        assert_eq!(ev.op[first as usize], 0);
        ev.remove(ev.ret_node[0]);
        ev.remove(ev.call_node[0]);
        assert_eq!(ev.op[ev.first_return_from(ev.next[0]) as usize], 1);
        ev.restore(ev.call_node[0]);
        ev.restore(ev.ret_node[0]);
        assert_eq!(ev.first_return_from(ev.next[0]), first);
    }
}
