//! The discrete-event kernel: a priority queue of `(cycle, seq)`-ordered events.
//!
//! Two events scheduled for the same cycle must come out in a fixed order, or a run is not
//! reproducible: `BinaryHeap` orders equal keys arbitrarily (the bug bitcoin-dev-project/sim-ln
//! fixed in PR #308). Every event therefore carries a sequence number, handed out in scheduling
//! order, and the queue pops the smallest `(cycle, seq)`. Nothing ticks: units compute when they
//! will next change state and schedule exactly that cycle, so idle cycles cost nothing.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Simulated time, in cycles of the clock the caller chose.
pub type Cycle = u64;

#[derive(Debug)]
struct Entry<E> {
    cycle: Cycle,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.cycle, self.seq) == (other.cycle, other.seq)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.cycle, self.seq).cmp(&(other.cycle, other.seq))
    }
}

/// Events of type `E`, popped in `(cycle, seq)` order; time never runs backwards.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    next_seq: u64,
    now: Cycle,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now: 0,
            popped: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `cycle` and returns its sequence number. Panics if `cycle` is in
    /// the past: a unit that does so has a bug, and silently reordering time would hide it.
    pub fn schedule(&mut self, cycle: Cycle, event: E) -> u64 {
        assert!(
            cycle >= self.now,
            "event scheduled at cycle {cycle}, before the current cycle {}",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { cycle, seq, event }));
        seq
    }

    /// The cycle of the next event, if any.
    pub fn peek_cycle(&self) -> Option<Cycle> {
        self.heap.peek().map(|e| e.0.cycle)
    }

    /// Removes the next event and advances the current cycle to it.
    pub fn pop(&mut self) -> Option<(Cycle, E)> {
        let Reverse(e) = self.heap.pop()?;
        self.now = e.cycle;
        self.popped += 1;
        Some((e.cycle, e.event))
    }

    /// The cycle of the last event popped (0 before the first).
    pub fn now(&self) -> Cycle {
        self.now
    }

    /// Events popped so far.
    pub fn processed(&self) -> u64 {
        self.popped
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_come_out_in_scheduling_order() {
        let mut q = EventQueue::new();
        q.schedule(5, "b0");
        q.schedule(3, "a");
        q.schedule(5, "b1");
        q.schedule(5, "b2");
        q.schedule(4, "c");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![(3, "a"), (4, "c"), (5, "b0"), (5, "b1"), (5, "b2")]
        );
        assert_eq!(q.now(), 5);
        assert_eq!(q.processed(), 5);
    }

    #[test]
    #[should_panic(expected = "before the current cycle")]
    fn scheduling_in_the_past_is_a_bug() {
        let mut q = EventQueue::new();
        q.schedule(10, ());
        q.pop();
        q.schedule(9, ());
    }
}
