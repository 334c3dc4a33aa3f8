//! The engine's wasm exports: a plain C ABI of numbers, read by the class's own loader
//! (`resocket.js`), with no wasm-bindgen glue between them.
//!
//! The wasm imports nothing, so it instantiates with an empty import object anywhere
//! WebAssembly runs (a browser, a worker, Node.js, Deno, a bundler's asset). Engines are
//! handles (1-based indexes into a table; 0 is none): a stale or made-up handle finds no engine
//! and gets a neutral answer (-1 or 0), never memory it does not own. Strings and bytes come in
//! through the scratch buffer: the class asks [`scratch`] for room, writes them there (UTF-8 from
//! `TextEncoder`, f64s little-endian) one after the other, and passes their lengths (-1: none).
//! Answers are numbers; strings and bytes answered are read at [`at`] (see [`super`]).
//!
//! Export names are single letters (every name is in the wasm and in the class): `b` scratch,
//! `n` new, `i` input, `r` received, `s` send binary, `m` frame (resume), `p` poll, `u` num,
//! `t` text, `a` at, `f` free.
#![allow(unsafe_code)]

use alloc::vec::Vec;
use core::cell::UnsafeCell;

use super::Engine;

/// The engines and the scratch buffer of the one wasm instance.
struct World {
    scratch: Vec<u8>,
    engines: Vec<Option<Engine>>,
}

/// The [`World`], in a static: the npm wasm has one thread and no imports, so no JavaScript runs
/// while an export runs, and no export is entered again before it returns.
struct Global(UnsafeCell<World>);

// SAFETY: the npm engine is built for wasm32 without atomics: there is one thread, and the
// static is never shared across threads.
unsafe impl Sync for Global {}

static WORLD: Global = Global(UnsafeCell::new(World {
    scratch: Vec::new(),
    engines: Vec::new(),
}));

/// The world, for the length of one export call.
fn world() -> &'static mut World {
    // SAFETY: single-threaded, and every export takes this reference once, at its start, and
    // drops it when it returns; exports are never re-entered (the wasm imports nothing, so it
    // never calls out to JavaScript).
    unsafe { &mut *WORLD.0.get() }
}

impl World {
    /// The engine of handle `h`, if it is live.
    fn engine(&mut self, h: u32) -> Option<&mut Engine> {
        live(&mut self.engines, h)
    }
}

/// The engine of handle `h` in `engines`, if it is live (for exports that also read the scratch
/// buffer while they hold it).
fn live(engines: &mut [Option<Engine>], h: u32) -> Option<&mut Engine> {
    engines.get_mut((h as usize).checked_sub(1)?)?.as_mut()
}

/// Reads the scratch buffer front to back.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// The next `len` bytes (`len` < 0: none, as is a length beyond what was written).
    fn bytes(&mut self, len: i32) -> Option<&'a [u8]> {
        let (taken, rest) = self.rest.split_at_checked(usize::try_from(len).ok()?)?;
        self.rest = rest;
        Some(taken)
    }

    /// The next string of `len` bytes.
    fn text(&mut self, len: i32) -> Option<&'a str> {
        let bytes = self.bytes(len)?;
        // SAFETY: the class writes strings into the scratch buffer with `TextEncoder`, whose
        // output is UTF-8 by definition (a lone surrogate becomes U+FFFD), and passes their
        // lengths as `encodeInto` counted them. Checking again would link `from_utf8` (about
        // 0.4 KB gzip) for nothing.
        Some(unsafe { core::str::from_utf8_unchecked(bytes) })
    }
}

/// `b`: room for `len` bytes in the scratch buffer, and its address (good until the next call).
/// The buffer only grows (zeroed once, when it does): what a call writes is read by its
/// lengths, never past them.
#[export_name = "b"]
pub extern "C" fn scratch(len: u32) -> u32 {
    let scratch = &mut world().scratch;
    if scratch.len() < len as usize {
        scratch.resize(len as usize, 0);
    }
    scratch.as_ptr() as u32
}

/// `n`: a new engine from the scratch buffer ([`Engine::new`]'s arguments: `config` f64s, then
/// the heartbeat ping, the fixed URL and the joined subprotocols), and its handle.
#[export_name = "n"]
pub extern "C" fn new(config: u32, ping: i32, url: i32, protocols: i32, secure_only: u32) -> u32 {
    let w = world();
    let mut r = Reader { rest: &w.scratch };
    let config: Vec<f64> = r
        .bytes(i32::try_from(config.saturating_mul(8)).unwrap_or(-1))
        .unwrap_or_default()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap_or_default()))
        .collect();
    let ping = r.text(ping);
    let url = r.text(url);
    let protocols = r.text(protocols).unwrap_or_default();
    let engine = Engine::new(&config, ping, url, protocols, secure_only != 0);
    // The first free slot, else a new one.
    let i = match w.engines.iter_mut().position(|slot| slot.is_none()) {
        Some(i) => i,
        None => {
            w.engines.push(None);
            w.engines.len() - 1
        }
    };
    if let Some(slot) = w.engines.get_mut(i) {
        *slot = Some(engine);
    }
    i as u32 + 1
}

/// `f`: frees engine `h` (a stale handle is ignored).
#[export_name = "f"]
pub extern "C" fn free(h: u32) {
    let w = world();
    if let Some(slot) = (h as usize)
        .checked_sub(1)
        .and_then(|i| w.engines.get_mut(i))
    {
        *slot = None;
    }
}

/// `i`: [`Engine::input`], its strings `s` and `t` in the scratch buffer.
#[allow(clippy::too_many_arguments)]
#[export_name = "i"]
pub extern "C" fn input(
    h: u32,
    kind: u32,
    now: f64,
    buffered: f64,
    writable: u32,
    id: f64,
    a: f64,
    b: f64,
    s: i32,
    t: i32,
) -> f64 {
    let World { scratch, engines } = world();
    let mut r = Reader { rest: scratch };
    let (s, t) = (r.text(s), r.text(t));
    let Some(e) = live(engines, h) else {
        return -1.0;
    };
    e.input(kind as u8, now, buffered, writable != 0, id, a, b, s, t)
}

/// `r`: [`Engine::received`] (1: deliver).
#[export_name = "r"]
pub extern "C" fn received(h: u32, now: f64, id: f64, len: f64) -> u32 {
    world()
        .engine(h)
        .map_or(0, |e| u32::from(e.received(now, id, len)))
}

/// `s`: [`Engine::send_binary`], the `len` bytes in the scratch buffer.
#[export_name = "s"]
pub extern "C" fn send_binary(
    h: u32,
    now: f64,
    buffered: f64,
    writable: u32,
    len: i32,
    policy: f64,
    ttl: f64,
) -> f64 {
    let World { scratch, engines } = world();
    let bytes = Reader { rest: scratch }.bytes(len).unwrap_or_default();
    let Some(e) = live(engines, h) else {
        return -1.0;
    };
    e.send_binary(now, buffered, writable != 0, bytes, policy, ttl)
}

/// `m`: [`Engine::frame`], a text frame's `text` bytes in the scratch buffer (-1: binary).
#[cfg(feature = "resume")]
#[export_name = "m"]
pub extern "C" fn frame(
    h: u32,
    now: f64,
    buffered: f64,
    writable: u32,
    id: f64,
    text: i32,
    len: f64,
) -> u32 {
    let World { scratch, engines } = world();
    let text = Reader { rest: scratch }.text(text);
    let Some(e) = live(engines, h) else {
        return 0;
    };
    u32::from(e.frame(now, buffered, writable != 0, id, text, len))
}

/// `p`: [`Engine::poll`].
#[export_name = "p"]
pub extern "C" fn poll(h: u32) -> u32 {
    world().engine(h).map_or(0, |e| u32::from(e.poll()))
}

/// `u`: [`Engine::num`].
#[export_name = "u"]
pub extern "C" fn num(h: u32, i: u32) -> f64 {
    world().engine(h).map_or(0.0, |e| e.num(i as u8))
}

/// `t`: [`Engine::text`].
#[export_name = "t"]
pub extern "C" fn text(h: u32, i: u32) -> f64 {
    world().engine(h).map_or(-1.0, |e| e.text(i as u8))
}

/// `a`: [`Engine::at`].
#[export_name = "a"]
pub extern "C" fn at(h: u32) -> u32 {
    world().engine(h).map_or(0, |e| e.at())
}
