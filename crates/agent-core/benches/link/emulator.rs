//! A userspace emulator of a rural mobile link: a TCP proxy on a loopback port, in front of
//! the real centre, through which every byte between a phone's HTTP client and the centre
//! passes. It exists because this machine's kernel has no `sch_netem` (tc cannot add delay or
//! loss); `tbf` alone could only shape the rate. It sits beside the fault proxy of the sync
//! tests (`tests/support/fault_proxy.rs`), which breaks single connections on purpose; this
//! one models a whole link over time.
//!
//! The model, per direction (phone → centre "up", centre → phone "down"):
//! * **Rate**: one shared transmitter per direction (a token bucket one segment deep): a
//!   segment of up to [`MSS`] bytes occupies the link for `len / rate`, after the segments
//!   queued before it, whatever connection they belong to.
//! * **Delay**: each segment arrives `rtt / 2` after its transmission ends. A new connection
//!   costs one round trip before its first byte moves (the TCP handshake).
//! * **Window**: a connection has at most [`WINDOW`] bytes on the link per direction (sent by
//!   its writer, not yet delivered), like TCP's window: the rest waits in the sender's socket.
//! * **Loss** (`loss` per segment): TCP retransmits a lost segment, so loss is modelled as what
//!   it costs: the segment occupies the link twice and arrives `rtt + 200 ms` (a
//!   retransmission timeout) later; segments behind it on the same connection wait for it
//!   (in-order delivery). Not modelled: TCP's congestion window halving after a loss and slow
//!   start, so the model is kinder to long transfers than a real lossy link.
//! * **Cuts** (every `cut_every`): every connection is reset (RST to both ends, queued bytes
//!   discarded), and for `outage` new connections are reset as soon as they are accepted.
//!
//! Counted: bytes carried per direction (segments whose transmission began, including those
//! lost in flight at a cut; a loss retransmission is not counted again: these are the HTTP
//! bytes, TCP/IP headers and retransmissions are outside the count), cuts, connections,
//! refusals and lost segments.

use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Largest segment (Ethernet MTU less IP and TCP headers with timestamps).
pub const MSS: usize = 1448;
/// Bytes a connection may have on the link per direction.
pub const WINDOW: usize = 64 * 1024;

/// What the link is like.
#[derive(Clone, Debug)]
pub struct LinkSpec {
    pub name: &'static str,
    /// Bits per second in each direction; `None` is a fault-free loopback (for reference runs).
    pub rate_bps: Option<u64>,
    pub rtt: Duration,
    /// Probability that a segment is lost (and retransmitted).
    pub loss: f64,
    pub cut_every: Option<Duration>,
    /// How long the link stays down after a cut.
    pub outage: Duration,
    pub seed: u64,
}

impl LinkSpec {
    /// A link with nothing in the way (reference runs).
    pub fn loopback() -> Self {
        Self { name: "loopback", rate_bps: None, rtt: Duration::ZERO, loss: 0.0, cut_every: None, outage: Duration::ZERO, seed: 0 }
    }

    /// Bytes per second, if limited.
    pub fn bytes_per_s(&self) -> Option<f64> {
        self.rate_bps.map(|r| r as f64 / 8.0)
    }

    fn rto(&self) -> Duration {
        self.rtt + Duration::from_millis(200)
    }
}

#[derive(Debug, Default)]
pub struct LinkStats {
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
    pub connections: AtomicU64,
    pub cuts: AtomicU64,
    /// Connections reset at accept because the link was down.
    pub refused: AtomicU64,
    pub lost_segments: AtomicU64,
}

impl LinkStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// One direction's transmitter: when it is free next.
struct Wire {
    bytes_per_s: Option<f64>,
    free_at: Mutex<Instant>,
}

impl Wire {
    fn new(bytes_per_s: Option<f64>) -> Self {
        Self { bytes_per_s, free_at: Mutex::new(Instant::now()) }
    }

    /// Book the link for `len` bytes: when their transmission starts and ends.
    fn transmit(&self, len: usize) -> (Instant, Instant) {
        let Some(rate) = self.bytes_per_s else {
            let now = Instant::now();
            return (now, now);
        };
        let mut free = self.free_at.lock().unwrap();
        let start = (*free).max(Instant::now());
        let end = start + Duration::from_secs_f64(len as f64 / rate);
        *free = end;
        (start, end)
    }

    /// A cut empties the queue: the link is free from now on.
    fn clear(&self) {
        let mut free = self.free_at.lock().unwrap();
        *free = (*free).min(Instant::now());
    }
}

struct Shared {
    spec: LinkSpec,
    upstream: SocketAddr,
    up: Wire,
    down: Wire,
    rng: Mutex<rand::rngs::StdRng>,
    stats: Arc<LinkStats>,
    /// Incremented at every cut; connections watch it and reset themselves.
    cut: watch::Sender<u64>,
    /// Whether the link is up (new connections are accepted).
    up_state: watch::Sender<bool>,
}

/// A running link emulator. Dropping it stops it.
pub struct Link {
    pub addr: SocketAddr,
    pub stats: Arc<LinkStats>,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Link {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.shared.cut.send_modify(|n| *n += 1);
    }
}

impl Link {
    /// Listen on a loopback port and forward to `upstream` under `spec`. Cuts start only with
    /// [`Link::begin`], so that set-up (enrolment) can cross the link first.
    pub async fn start(spec: LinkSpec, upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(LinkStats::default());
        let shared = Arc::new(Shared {
            up: Wire::new(spec.bytes_per_s()),
            down: Wire::new(spec.bytes_per_s()),
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(spec.seed)),
            spec,
            upstream,
            stats: stats.clone(),
            cut: watch::channel(0).0,
            up_state: watch::channel(true).0,
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !*s.up_state.borrow() {
                    s.stats.refused.fetch_add(1, Ordering::Relaxed);
                    reset(&client);
                    continue;
                }
                s.stats.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(client, s.clone()));
            }
        });
        Self { addr, stats, shared, tasks: vec![accept] }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Start the clock: zero the counters and cut the link every `cut_every` from now.
    pub fn begin(&mut self) {
        for c in [&self.stats.bytes_up, &self.stats.bytes_down, &self.stats.cuts, &self.stats.refused, &self.stats.lost_segments] {
            c.store(0, Ordering::Relaxed);
        }
        let Some(every) = self.shared.spec.cut_every else { return };
        let s = self.shared.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut next = Instant::now() + every;
            loop {
                tokio::time::sleep_until(next).await;
                s.stats.cuts.fetch_add(1, Ordering::Relaxed);
                s.up_state.send_replace(false);
                s.cut.send_modify(|n| *n += 1);
                s.up.clear();
                s.down.clear();
                tokio::time::sleep(s.spec.outage).await;
                s.up_state.send_replace(true);
                next += every;
            }
        }));
    }

    /// Changes to `true` whenever the link comes back after a cut (what a phone's
    /// connectivity callback reports).
    pub fn watch_up(&self) -> watch::Receiver<bool> {
        self.shared.up_state.subscribe()
    }
}

/// Abort a socket with RST.
fn reset(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// How one direction of a connection ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// Its source closed, and the close was passed on.
    Closed,
    /// The destination failed, or the link was cut: reset the whole connection.
    Abort,
}

async fn connection(client: TcpStream, s: Arc<Shared>) {
    let cut = s.cut.subscribe();
    let Ok(server) = TcpStream::connect(s.upstream).await else {
        reset(&client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_r, mut client_w) = client.into_split();
    let (mut server_r, mut server_w) = server.into_split();
    // the TCP handshake: a round trip before the first byte
    let mut handshake_cut = cut.clone();
    let aborted = tokio::select! {
        _ = tokio::time::sleep(s.spec.rtt) => {
            let up = pipe(&mut client_r, &mut server_w, &s, Dir::Up, cut.clone());
            let down = pipe(&mut server_r, &mut client_w, &s, Dir::Down, cut);
            tokio::pin!(up, down);
            let (mut up_end, mut down_end) = (None, None);
            loop {
                tokio::select! {
                    e = &mut up, if up_end.is_none() => up_end = Some(e),
                    e = &mut down, if down_end.is_none() => down_end = Some(e),
                }
                match (up_end, down_end) {
                    (Some(End::Abort), _) | (_, Some(End::Abort)) => break true,
                    (Some(End::Closed), Some(End::Closed)) => break false,
                    _ => {}
                }
            }
        }
        _ = handshake_cut.changed() => true,
    };
    if aborted {
        for half in [client_r.as_ref(), server_r.as_ref()] {
            reset(half);
        }
        // no FIN before the RST
        client_w.forget();
        server_w.forget();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

/// A segment on its way.
struct Segment {
    started: Instant,
    arrives: Instant,
    data: Vec<u8>,
}

/// Carry one direction of a connection over the link until its source closes (then pass the
/// close on), its destination fails, or the link is cut.
async fn pipe(from: &mut OwnedReadHalf, to: &mut OwnedWriteHalf, s: &Shared, dir: Dir, mut cut: watch::Receiver<u64>) -> End {
    let (wire, counter) = match dir {
        Dir::Up => (&s.up, &s.stats.bytes_up),
        Dir::Down => (&s.down, &s.stats.bytes_down),
    };
    let queue: Mutex<VecDeque<Segment>> = Mutex::default();
    let in_flight = AtomicU64::new(0);
    let (room, ready) = (Notify::new(), Notify::new());
    let one_way = s.spec.rtt / 2;
    let sender = async {
        let mut buf = vec![0u8; MSS];
        let mut last_arrival = Instant::now();
        loop {
            while in_flight.load(Ordering::Relaxed) as usize + MSS > WINDOW {
                room.notified().await;
            }
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let lost = s.spec.loss > 0.0 && s.rng.lock().unwrap().random_bool(s.spec.loss);
            let (started, ended) = wire.transmit(n);
            let mut arrives = ended + one_way;
            if lost {
                s.stats.lost_segments.fetch_add(1, Ordering::Relaxed);
                let again = wire.transmit(n).1;
                arrives = arrives.max(again + one_way) + s.spec.rto();
            }
            arrives = arrives.max(last_arrival);
            last_arrival = arrives;
            in_flight.fetch_add(n as u64, Ordering::Relaxed);
            queue.lock().unwrap().push_back(Segment { started, arrives, data: buf[..n].to_vec() });
            ready.notify_one();
        }
        // the close travels behind the last segment
        queue.lock().unwrap().push_back(Segment { started: Instant::now(), arrives: last_arrival, data: Vec::new() });
        ready.notify_one();
        std::future::pending::<()>().await;
    };
    let receiver = async {
        loop {
            let next = queue.lock().unwrap().front().map(|seg| seg.arrives);
            let Some(at) = next else {
                ready.notified().await;
                continue;
            };
            tokio::time::sleep_until(at).await;
            let seg = queue.lock().unwrap().pop_front().expect("the front segment");
            if seg.data.is_empty() {
                let _ = to.shutdown().await;
                return End::Closed;
            }
            if to.write_all(&seg.data).await.is_err() {
                return End::Abort;
            }
            counter.fetch_add(seg.data.len() as u64, Ordering::Relaxed);
            in_flight.fetch_sub(seg.data.len() as u64, Ordering::Relaxed);
            room.notify_one();
        }
    };
    tokio::select! {
        _ = sender => unreachable!("the sender waits once done"),
        end = receiver => end,
        _ = cut.changed() => {
            // Bytes whose transmission had begun were on the wire, delivered or not.
            let now = Instant::now();
            let lost: usize = queue.lock().unwrap().iter().filter(|seg| seg.started <= now).map(|seg| seg.data.len()).sum();
            counter.fetch_add(lost as u64, Ordering::Relaxed);
            End::Abort
        }
    }
}
