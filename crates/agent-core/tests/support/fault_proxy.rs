//! A fault-injecting TCP proxy for sync tests: it sits between agent-core and the real centre
//! and, per connection, either forwards faithfully or breaks the connection the way bad mobile
//! links and overloaded gateways do:
//!
//! - **drop**: close both sides (FIN) after a random number of bytes;
//! - **reset**: abort with RST (SO_LINGER 0) after a random number of bytes;
//! - **stall**: stop forwarding for a while after a random number of bytes, then close;
//! - **cut**: let the request through, forward only part of the centre's answer, then close
//!   (a truncated body: the centre acted, the agent does not know);
//! - **503**: answer the first request itself with `503 Service Unavailable`, never forwarding it.
//!
//! Random faults come from a seeded RNG (the seed is printed, so a failure can be replayed).
//! Scripted faults hit a chosen request exactly: "drop the connection 20 KiB after the 4th
//! `PATCH` began". Every byte forwarded is counted in each direction.

use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    Drop,
    Reset,
    Stall,
    Cut,
    Unavailable,
}

/// Random faults: the chance that a new connection carries one, and how far into it.
#[derive(Clone, Copy, Debug)]
pub struct RandomFaults {
    pub seed: u64,
    /// Probability that a connection gets a fault.
    pub rate: f64,
    /// The fault strikes after a uniformly random number of bytes below this.
    pub max_offset: u64,
    /// How long a stall lasts before the proxy closes the connection.
    pub stall: Duration,
}

/// A fault aimed at one request: when `marker` (e.g. `b"PATCH "`) has been seen `occurrence`
/// times in the agent's bytes (counting from 1, across connections), `kind` strikes `after`
/// bytes later on that connection (for `Cut`: `after` bytes into the centre's answer, so the
/// request itself arrives whole).
#[derive(Clone, Debug)]
pub struct ScriptedFault {
    pub marker: &'static [u8],
    pub occurrence: u64,
    pub after: u64,
    pub kind: FaultKind,
}

#[derive(Debug, Default)]
pub struct FaultStats {
    pub connections: AtomicU64,
    pub drops: AtomicU64,
    pub resets: AtomicU64,
    pub stalls: AtomicU64,
    pub cuts: AtomicU64,
    pub unavailable: AtomicU64,
    /// Bytes forwarded from the agent to the centre.
    pub bytes_up: AtomicU64,
    /// Bytes forwarded from the centre to the agent.
    pub bytes_down: AtomicU64,
    /// Times a scripted marker was seen.
    pub markers_seen: AtomicU64,
}

impl FaultStats {
    pub fn faults(&self) -> u64 {
        [&self.drops, &self.resets, &self.stalls, &self.cuts, &self.unavailable].iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn count(&self, kind: FaultKind) {
        let c = match kind {
            FaultKind::Drop => &self.drops,
            FaultKind::Reset => &self.resets,
            FaultKind::Stall => &self.stalls,
            FaultKind::Cut => &self.cuts,
            FaultKind::Unavailable => &self.unavailable,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{} faults in {} connections (drop {}, reset {}, stall {}, cut {}, 503 {}); forwarded {} B up, {} B down",
            self.faults(),
            g(&self.connections),
            g(&self.drops),
            g(&self.resets),
            g(&self.stalls),
            g(&self.cuts),
            g(&self.unavailable),
            g(&self.bytes_up),
            g(&self.bytes_down)
        )
    }
}

struct Shared {
    upstream: SocketAddr,
    random: Option<RandomFaults>,
    rng: Mutex<rand::rngs::StdRng>,
    enabled: AtomicBool,
    /// The link is down: every connection is refused with a reset at once.
    down: AtomicBool,
    script: Mutex<Option<ScriptedFault>>,
    stats: Arc<FaultStats>,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    pub stats: Arc<FaultStats>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// A proxy to `upstream` on a loopback port; `random` faults (if any) are on at once.
    pub async fn start(upstream: SocketAddr, random: Option<RandomFaults>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(FaultStats::default());
        let shared = Arc::new(Shared {
            upstream,
            random,
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(random.map_or(0, |r| r.seed))),
            enabled: AtomicBool::new(true),
            down: AtomicBool::new(false),
            script: Mutex::new(None),
            stats: stats.clone(),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move { serve(client, s).await });
            }
        });
        Self { addr, stats, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Turn random faults on or off (scripted ones are unaffected).
    pub fn set_enabled(&self, on: bool) {
        self.shared.enabled.store(on, Ordering::Relaxed);
    }

    /// Take the link down (every connection reset at once) or bring it back.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::Relaxed);
    }

    pub fn script(&self, fault: ScriptedFault) {
        *self.shared.script.lock().unwrap() = Some(fault);
    }
}

/// Which bytes a fault counts before it strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    /// The agent's bytes.
    Up,
    /// The centre's bytes.
    Down,
    /// Both.
    Both,
}

/// A fault due on a connection once `dir`'s byte count reaches `at`.
#[derive(Clone, Copy, Debug)]
struct Strike {
    kind: FaultKind,
    dir: Dir,
    at: u64,
}

fn random_strike(s: &Shared) -> Option<Strike> {
    let r = s.random?;
    if !s.enabled.load(Ordering::Relaxed) {
        return None;
    }
    let mut rng = s.rng.lock().unwrap();
    if !rng.random_bool(r.rate) {
        return None;
    }
    // Stalls cost the most time (a timeout each), so they are half as likely as the others.
    let kinds = [FaultKind::Drop, FaultKind::Reset, FaultKind::Cut, FaultKind::Unavailable];
    let kind = if rng.random_bool(1.0 / 9.0) { FaultKind::Stall } else { kinds[rng.random_range(0..kinds.len())] };
    Some(Strike { kind, dir: Dir::Both, at: rng.random_range(0..r.max_offset) })
}

/// How many of `n` bytes moving `moving` may pass before a strike, and which strike.
fn allowed(strikes: &[Strike], moving: Dir, up: u64, down: u64, n: u64) -> (u64, Option<FaultKind>) {
    let mut limit = n;
    let mut kind = None;
    for s in strikes {
        if s.kind == FaultKind::Cut && moving == Dir::Up {
            // A cut lets the request through whole and truncates the centre's answer.
            continue;
        }
        let reached = match (s.dir, moving) {
            (Dir::Both, _) => up + down,
            (Dir::Up, Dir::Up) => up,
            (Dir::Down, Dir::Down) => down,
            _ => continue,
        };
        if reached + n >= s.at {
            let l = s.at.saturating_sub(reached);
            if kind.is_none() || l < limit {
                limit = l;
                kind = Some(s.kind);
            }
        }
    }
    (limit, kind)
}

async fn serve(mut client: TcpStream, s: Arc<Shared>) {
    if s.down.load(Ordering::Relaxed) {
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
        return;
    }
    s.stats.connections.fetch_add(1, Ordering::Relaxed);
    let mut strikes: Vec<Strike> = random_strike(&s).into_iter().collect();
    if strikes.iter().any(|p| p.kind == FaultKind::Unavailable) {
        s.stats.count(FaultKind::Unavailable);
        unavailable(client).await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(s.upstream).await else { return };
    // Forward each piece as it comes (Nagle would hold a body behind its headers for an ACK).
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut up, mut down) = (0u64, 0u64);
    // The end of the agent's previous read, so that a marker split across reads is found.
    let mut tail: Vec<u8> = Vec::new();
    let mut up_buf = vec![0u8; 16 * 1024];
    let mut down_buf = vec![0u8; 16 * 1024];
    let (mut client_open, mut server_open) = (true, true);
    let struck = loop {
        if !client_open && !server_open {
            break None;
        }
        tokio::select! {
            r = client.read(&mut up_buf), if client_open => {
                let n = match r { Ok(n) => n, Err(_) => break None };
                if n == 0 {
                    client_open = false;
                    let _ = server.shutdown().await;
                    continue;
                }
                if let Some(strike) = scan_script(&s, &mut tail, &up_buf[..n], up, down) {
                    strikes.push(strike);
                }
                let (limit, fault) = allowed(&strikes, Dir::Up, up, down, n as u64);
                let forward = &up_buf[..limit as usize];
                if server.write_all(forward).await.is_err() { break None }
                up += limit;
                s.stats.bytes_up.fetch_add(limit, Ordering::Relaxed);
                if fault.is_some() { break fault }
            }
            r = server.read(&mut down_buf), if server_open => {
                let n = match r { Ok(n) => n, Err(_) => break None };
                if n == 0 {
                    server_open = false;
                    let _ = client.shutdown().await;
                    continue;
                }
                let (limit, fault) = allowed(&strikes, Dir::Down, up, down, n as u64);
                let forward = &down_buf[..limit as usize];
                if client.write_all(forward).await.is_err() { break None }
                down += limit;
                s.stats.bytes_down.fetch_add(limit, Ordering::Relaxed);
                if fault.is_some() { break fault }
            }
        }
    };
    let Some(kind) = struck else { return };
    s.stats.count(kind);
    match kind {
        FaultKind::Stall => {
            tokio::time::sleep(s.random.map_or(Duration::from_secs(2), |r| r.stall)).await;
        }
        FaultKind::Reset => {
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            let _ = socket2::SockRef::from(&server).set_linger(Some(Duration::ZERO));
        }
        FaultKind::Drop | FaultKind::Cut | FaultKind::Unavailable => {}
    }
    // Dropping both streams closes them (with RST after SO_LINGER 0), so the centre too sees
    // the connection end and lets go of any upload it was writing.
}

/// Look for the scripted marker in the agent's bytes; when its chosen occurrence is seen,
/// the strike it sets up: `after` of the agent's bytes past the marker, or for a cut, `after`
/// bytes into the centre's answer.
fn scan_script(s: &Shared, tail: &mut Vec<u8>, data: &[u8], up: u64, down: u64) -> Option<Strike> {
    let mut script = s.script.lock().unwrap();
    let f = script.as_ref()?;
    let keep = f.marker.len().saturating_sub(1);
    let mut hay = std::mem::take(tail);
    let hay_start = up - hay.len() as u64;
    hay.extend_from_slice(data);
    let mut found = None;
    for (i, w) in hay.windows(f.marker.len()).enumerate() {
        if w == f.marker {
            let seen = s.stats.markers_seen.fetch_add(1, Ordering::Relaxed) + 1;
            if seen == f.occurrence {
                found = Some(match f.kind {
                    FaultKind::Cut => Strike { kind: FaultKind::Cut, dir: Dir::Down, at: down + f.after },
                    kind => Strike { kind, dir: Dir::Up, at: hay_start + i as u64 + f.after },
                });
                break;
            }
        }
    }
    *tail = hay[hay.len().saturating_sub(keep)..].to_vec();
    if found.is_some() {
        *script = None;
    }
    found
}

/// Read the request head (or give up after a moment) and answer 503 without forwarding.
async fn unavailable(mut client: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut have = 0;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while have < buf.len() {
            match client.read(&mut buf[have..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => have += n,
            }
            if buf[..have].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    let body = r#"{"code":"unavailable","message":"网关繁忙 / gateway busy"}"#;
    let resp = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(resp.as_bytes()).await;
    let _ = client.shutdown().await;
}
