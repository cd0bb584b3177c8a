//! Log lines gathered in one process-wide buffer and written to the sink
//! (stdout) in batches, one `write_all` each, instead of one `write` a line.
//!
//! Every line is appended whole, under one lock, so lines from all threads
//! keep their order and none is split or interleaved. The buffer is written:
//!
//! - by [`Batch::flush`] (a tokio worker about to park, the background
//!   ticker, the end of `main`, the panic hook);
//! - on an append that brings it to [`Limits::flush_bytes`], or finds its
//!   oldest line [`Limits::max_age`] old, if no other thread is writing
//!   (that one, or the next flush, takes the lines);
//! - at once, with what is before it, for a line written through (`WARN`
//!   and `ERROR`, or every line in `line` mode);
//! - at once, blocking, when appending would take the buffer past
//!   [`Limits::cap`]: a sink that blocks (a full pipe) or is slow slows the
//!   threads that log, as writing each line did, instead of growing the
//!   buffer or dropping lines.
//!
//! Two locks, always taken in this order: the output (the sink and the
//! spare buffer being written), then the pending lines. An append takes
//! only the second, so a slow write does not stop appends below the cap.

use std::io::Write;
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// When a batch is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// An append that brings the buffer to this many bytes writes it.
    pub(crate) flush_bytes: usize,
    /// An append that finds the oldest line this old writes the buffer.
    pub(crate) max_age: Duration,
    /// The buffer never grows past this by an append: the line is written
    /// at once instead, waiting for the sink.
    pub(crate) cap: usize,
}

impl Limits {
    /// 64 KiB, 50 ms, 1 MiB.
    pub(crate) const DEFAULT: Self = Self {
        flush_bytes: 64 * 1024,
        max_age: Duration::from_millis(50),
        cap: 1024 * 1024,
    };
}

/// The buffer and the sink it is written to.
#[derive(Debug)]
pub(crate) struct Batch<W> {
    output: Mutex<Output<W>>,
    pending: Mutex<Pending>,
    limits: Limits,
}

/// The sink, and the bytes being written to it (kept, emptied, between
/// writes, so the two buffers are swapped rather than allocated).
#[derive(Debug)]
struct Output<W> {
    sink: W,
    writing: Vec<u8>,
}

/// Lines not written yet, and when the first of them was appended.
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    since: Option<Instant>,
}

impl<W: Write> Batch<W> {
    pub(crate) fn new(sink: W, limits: Limits) -> Self {
        Self {
            output: Mutex::new(Output {
                sink,
                writing: Vec::new(),
            }),
            pending: Mutex::new(Pending::default()),
            limits,
        }
    }

    /// Appends one whole line (appended at `now`). A line `through` is
    /// written at once, after what is buffered before it.
    pub(crate) fn append(&self, line: &[u8], through: bool, now: Instant) {
        if !through {
            let mut pending = lock(&self.pending);
            if pending.bytes.len() + line.len() <= self.limits.cap {
                let since = *pending.since.get_or_insert(now);
                pending.bytes.extend_from_slice(line);
                let due = pending.bytes.len() >= self.limits.flush_bytes
                    || now.saturating_duration_since(since) >= self.limits.max_age;
                drop(pending);
                if due {
                    self.flush_unless_busy();
                }
                return;
            }
        }
        let mut output = lock(&self.output);
        let mut pending = lock(&self.pending);
        pending.bytes.extend_from_slice(line);
        Self::write(&mut output, pending);
    }

    /// Writes what is buffered, waiting for a write in progress first.
    pub(crate) fn flush(&self) {
        if lock(&self.pending).bytes.is_empty() {
            return;
        }
        let mut output = lock(&self.output);
        let pending = lock(&self.pending);
        Self::write(&mut output, pending);
    }

    /// Writes what is buffered unless another thread is writing (it, or
    /// the next flush, writes these lines).
    fn flush_unless_busy(&self) {
        let mut output = match self.output.try_lock() {
            Ok(output) => output,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let pending = lock(&self.pending);
        Self::write(&mut output, pending);
    }

    /// For a panic hook: writes what is buffered if both locks come free
    /// within `patience` (a thread that panicked while holding one must not
    /// hang the hook). Whether it wrote.
    pub(crate) fn flush_within(&self, patience: Duration) -> bool {
        let started = Instant::now();
        loop {
            if let Some(mut output) = try_lock(&self.output)
                && let Some(pending) = try_lock(&self.pending)
            {
                Self::write(&mut output, pending);
                return true;
            }
            if started.elapsed() >= patience {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Takes the pending lines (releasing their lock before the write, so
    /// appends go on) and writes them in one `write_all`. A failed write
    /// (stdout closed) loses that batch, as it would have lost its lines.
    fn write(output: &mut Output<W>, mut pending: MutexGuard<'_, Pending>) {
        if pending.bytes.is_empty() {
            return;
        }
        core::mem::swap(&mut pending.bytes, &mut output.writing);
        pending.since = None;
        drop(pending);
        let _ = output.sink.write_all(&output.writing);
        let _ = output.sink.flush();
        output.writing.clear();
    }

    /// The bytes waiting to be written.
    #[cfg(test)]
    fn pending_len(&self) -> usize {
        lock(&self.pending).bytes.len()
    }
}

/// The lock, whether or not a thread panicked holding it (the bytes stay
/// whole lines: each is appended by one `extend_from_slice`).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lock if it is free (poisoned or not).
fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::mpsc;
    use std::sync::{Arc, Condvar};

    use super::*;

    /// A sink that records each `write_all` as one write, and can be held
    /// shut: a write then waits until it is opened.
    #[derive(Clone, Default)]
    struct Sink(Arc<SinkState>);

    #[derive(Default)]
    struct SinkState {
        writes: Mutex<Vec<Vec<u8>>>,
        shut: Mutex<bool>,
        opened: Condvar,
        /// Writes that started (and may be waiting).
        started: Mutex<usize>,
    }

    impl Sink {
        fn writes(&self) -> Vec<Vec<u8>> {
            lock(&self.0.writes).clone()
        }

        fn text(&self) -> String {
            String::from_utf8(self.writes().concat()).unwrap()
        }

        fn shut(&self, shut: bool) {
            *lock(&self.0.shut) = shut;
            self.0.opened.notify_all();
        }

        fn started(&self) -> usize {
            *lock(&self.0.started)
        }
    }

    impl io::Write for Sink {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            unreachable!("the batch writes with write_all")
        }

        fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
            *lock(&self.0.started) += 1;
            let mut shut = lock(&self.0.shut);
            while *shut {
                shut = self.0.opened.wait(shut).unwrap();
            }
            drop(shut);
            lock(&self.0.writes).push(bytes.to_vec());
            Ok(())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A batch over a new sink, with `limits`.
    fn batch(limits: Limits) -> (Arc<Batch<Sink>>, Sink) {
        let sink = Sink::default();
        (Arc::new(Batch::new(sink.clone(), limits)), sink)
    }

    fn line(text: &str) -> Vec<u8> {
        format!("{text}\n").into_bytes()
    }

    /// Waits until `done` holds, at most 5 s.
    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(5), "{what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The limits docs/OPERATIONS.md gives operators.
    #[test]
    fn the_default_limits_are_64_kib_50_ms_and_1_mib() {
        assert_eq!(Limits::DEFAULT.flush_bytes, 65_536);
        assert_eq!(Limits::DEFAULT.max_age, Duration::from_millis(50));
        assert_eq!(Limits::DEFAULT.cap, 1_048_576);
    }

    #[test]
    fn lines_wait_for_a_flush_then_go_out_in_one_write_in_order() {
        let (batch, sink) = batch(Limits::DEFAULT);
        let now = Instant::now();
        for n in 0..3 {
            batch.append(&line(&format!("line {n}")), false, now);
        }
        assert!(sink.writes().is_empty());
        batch.flush();
        assert_eq!(sink.writes(), [b"line 0\nline 1\nline 2\n".to_vec()]);
        // Nothing pending: no write at all.
        batch.flush();
        assert!(batch.flush_within(Duration::ZERO));
        assert_eq!(sink.writes().len(), 1);
    }

    #[test]
    fn lines_from_many_threads_stay_whole_and_in_each_threads_order() {
        let (batch, sink) = batch(Limits {
            flush_bytes: 4096,
            ..Limits::DEFAULT
        });
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let batch = Arc::clone(&batch);
                std::thread::spawn(move || {
                    for n in 0..2000 {
                        let text = format!("{thread} {n} {}", "x".repeat(n % 97));
                        batch.append(&line(&text), n % 500 == 0, Instant::now());
                        if n % 300 == 0 {
                            batch.flush();
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        batch.flush();
        assert!(sink.writes().len() > 1, "written in several batches");
        let text = sink.text();
        let mut next = [0_usize; 8];
        for written in text.lines() {
            let mut words = written.split(' ');
            let thread: usize = words.next().unwrap().parse().unwrap();
            let n: usize = words.next().unwrap().parse().unwrap();
            assert_eq!(words.next().unwrap(), "x".repeat(n % 97), "{written}");
            assert_eq!(n, next[thread], "thread {thread} out of order");
            next[thread] += 1;
        }
        assert_eq!(next, [2000; 8]);
        assert!(text.ends_with('\n'));
        assert!(sink.writes().iter().all(|write| write.ends_with(b"\n")));
    }

    #[test]
    fn a_batch_is_written_when_it_reaches_the_byte_threshold() {
        let (batch, sink) = batch(Limits::DEFAULT);
        let now = Instant::now();
        let forty = line(&"a".repeat(39));
        let below = Limits::DEFAULT.flush_bytes / forty.len();
        for _ in 0..below {
            batch.append(&forty, false, now);
        }
        assert!(sink.writes().is_empty(), "{} bytes", batch.pending_len());
        // The remainder exactly, then one byte more than it.
        let remainder = Limits::DEFAULT.flush_bytes - below * forty.len();
        let short = line(&"b".repeat(remainder - 2));
        batch.append(&short, false, now);
        assert!(sink.writes().is_empty(), "one byte short");
        batch.append(b"c\n", false, now);
        assert_eq!(sink.writes().len(), 1);
        assert_eq!(sink.writes()[0].len(), Limits::DEFAULT.flush_bytes + 1);
        assert_eq!(batch.pending_len(), 0);
    }

    #[test]
    fn a_line_appended_when_the_oldest_is_50_ms_old_writes_the_batch() {
        let (batch, sink) = batch(Limits::DEFAULT);
        let start = Instant::now();
        batch.append(&line("first"), false, start);
        batch.append(&line("second"), false, start + Duration::from_millis(49));
        assert!(sink.writes().is_empty());
        batch.append(&line("third"), false, start + Duration::from_millis(50));
        assert_eq!(sink.text(), "first\nsecond\nthird\n");
        // The age counts from the first line of the next batch, not the last.
        let later = start + Duration::from_millis(60);
        batch.append(&line("fourth"), false, later);
        batch.append(&line("fifth"), false, later + Duration::from_millis(49));
        assert_eq!(sink.writes().len(), 1);
        batch.append(&line("sixth"), false, later + Duration::from_millis(51));
        assert_eq!(sink.writes()[1], b"fourth\nfifth\nsixth\n");
        // A clock seen going back counts as no time.
        batch.append(&line("seventh"), false, later + Duration::from_secs(1));
        batch.append(&line("eighth"), false, later);
        assert_eq!(sink.writes().len(), 2);
    }

    #[test]
    fn a_line_written_through_goes_out_at_once_after_what_is_buffered() {
        let (batch, sink) = batch(Limits::DEFAULT);
        let now = Instant::now();
        batch.append(&line("info 1"), false, now);
        batch.append(&line("info 2"), false, now);
        batch.append(&line("warn"), true, now);
        assert_eq!(sink.writes(), [b"info 1\ninfo 2\nwarn\n".to_vec()]);
        batch.append(&line("error"), true, now);
        assert_eq!(sink.writes()[1], b"error\n");
        assert_eq!(batch.pending_len(), 0);
    }

    #[test]
    fn past_the_cap_an_append_waits_for_the_sink_and_loses_nothing() {
        let limits = Limits {
            flush_bytes: 100,
            max_age: Duration::from_secs(3600),
            cap: 1000,
        };
        let (batch, sink) = batch(limits);
        let now = Instant::now();
        sink.shut(true);
        // A batch being written, stuck in the sink (one byte below the
        // threshold, so the append itself does not write).
        batch.append(&line(&"w".repeat(98)), false, now);
        let first = {
            let batch = Arc::clone(&batch);
            std::thread::spawn(move || batch.flush())
        };
        wait_until("the first write started", || sink.started() == 1);
        // Appends go on up to the cap without waiting (the writer is busy,
        // so the threshold does not write).
        let ten = line("123456789");
        for _ in 0..100 {
            batch.append(&ten, false, now);
        }
        assert_eq!(batch.pending_len(), 1000);
        // The next line would pass the cap: its append waits for the sink.
        let (sender, receiver) = mpsc::channel();
        let blocked = {
            let batch = Arc::clone(&batch);
            std::thread::spawn(move || {
                batch.append(b"last\n", false, Instant::now());
                sender.send(()).unwrap();
            })
        };
        assert!(
            receiver.recv_timeout(Duration::from_millis(200)).is_err(),
            "an append past the cap returned while the sink was shut"
        );
        assert_eq!(batch.pending_len(), 1000, "the buffer grew past its cap");
        sink.shut(false);
        receiver.recv_timeout(Duration::from_secs(5)).unwrap();
        first.join().unwrap();
        blocked.join().unwrap();
        let expected = format!("{}\n{}last\n", "w".repeat(98), "123456789\n".repeat(100));
        assert_eq!(sink.text(), expected);
        assert_eq!(sink.writes().len(), 2);
    }

    #[test]
    fn the_panic_flush_gives_up_on_a_lock_held_elsewhere() {
        let (batch, sink) = batch(Limits::DEFAULT);
        batch.append(&line("kept"), false, Instant::now());
        let held = lock(&batch.pending);
        let started = Instant::now();
        assert!(!batch.flush_within(Duration::from_millis(20)));
        assert!(started.elapsed() >= Duration::from_millis(20));
        drop(held);
        let output = lock(&batch.output);
        assert!(!batch.flush_within(Duration::from_millis(5)));
        drop(output);
        assert!(sink.writes().is_empty());
        assert!(batch.flush_within(Duration::from_millis(5)));
        assert_eq!(sink.text(), "kept\n");
    }

    #[test]
    fn a_poisoned_lock_still_writes() {
        let (batch, sink) = batch(Limits::DEFAULT);
        batch.append(&line("before"), false, Instant::now());
        let poisoner = Arc::clone(&batch);
        let _ = std::thread::spawn(move || {
            let _held = poisoner.output.lock().unwrap();
            panic!("poison the output lock");
        })
        .join();
        assert!(batch.output.is_poisoned());
        batch.append(&line("warn"), true, Instant::now());
        assert_eq!(sink.text(), "before\nwarn\n");
    }
}
