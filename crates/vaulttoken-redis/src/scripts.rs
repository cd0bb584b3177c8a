//! The Lua scripts: each operation that reads before it writes is one
//! script, so it is atomic and one round trip (`EVALSHA`, with `EVAL` when
//! the server does not have it yet).
//!
//! Every key a script touches belongs to one subject, so all of them carry
//! one hash tag and share a cluster slot. Entries:
//!
//! | key                         | value                                   | expires at                |
//! |-----------------------------|-----------------------------------------|---------------------------|
//! | `…:id:<jti>`                | `revoked:<until ms>` or `used:<until ms>` | the later `until`       |
//! | `…:cutoff`                  | `<cutoff s>:<until ms>`                 | the later `until`         |
//! | `…:latest:<slot>`           | the token id                            | its `until`               |
//! | `…:family:<id>`             | hash: `gen created expires last rotated grace revoked` | the family's absolute expiry |
//! | `…:families`                | sorted set: family id by creation second | the latest family expiry |
//! | `<prefix>:{<slot tag>}:epoch` | `<epoch s>`: when this slot's state began | never                   |
//! | the change stream (`keys.rs`)  | one entry per change (`changes.rs`)     | trimmed by time           |
//! | its feed record               | hash: `n i h t` (`keys.rs`)             | never                     |
//!
//! Every write that can make a token invalid (an id revoked or spent, a
//! cutoff, a latest token, a family created or revoked) appends
//! a change to its slot's change stream in the same script
//! ([`CHANGE_FEED`]), so no such write is made without its change: the
//! stream is what a revocation mirror follows. Its keys are every script's
//! last two (the stream, then its feed record).
//!
//! Every script starts with the primary guard: on a replica it refuses
//! (`NOTPRIMARY`) before it reads anything. Every write script then checks
//! its deadline: its last `ARGV` is the last Redis `TIME` (microseconds) at
//! which it may run, and past it the script refuses (`PASTDEADLINE`) and
//! changes nothing (see `write_deadline`).
//!
//! Times the scripts compare are whole unix seconds; key expiries are unix
//! milliseconds. Generations are compared as decimal strings, so no
//! generation loses precision in Lua's doubles.
//!
//! The scripts that decide (check, consume, rotate) take their slot's epoch
//! marker as their last key (a write's last before the stream's two) and
//! read it first (`epoch_guard!`): a missing
//! marker means the slot's data is gone, so the script writes a new epoch
//! and answers [`LOST`] without deciding anything from what it holds. A
//! read-only store's check ([`READ_ONLY_CHECK`]) answers [`LOST`] and
//! writes nothing.

use std::sync::LazyLock;

use redis::Script;

use crate::read_only::ReadOnlyScript;
use crate::role::PRIMARY_GUARD;
use crate::write_deadline::DEADLINE_GUARD;

/// A script that first makes sure its server is a primary
/// ([`PRIMARY_GUARD`]): every script's answer comes from a primary's data.
fn primary_only(body: &str) -> Script {
    Script::new(&format!("{PRIMARY_GUARD}\n{body}"))
}

/// A write script: a primary only, and refused past its deadline, its last
/// argument ([`DEADLINE_GUARD`]), before it reads or writes anything.
fn write_before_deadline(body: &str) -> Script {
    Script::new(&format!(
        "{PRIMARY_GUARD}\n{DEADLINE_GUARD}\n{CHANGE_FEED}\n{body}"
    ))
}

/// Defines `append(kind, key, until_ms, value)`, which records one change in
/// the stream `KEYS[#KEYS - 1]` and its feed record `KEYS[#KEYS]`, as one
/// entry with the field `c`: `<kind> <key> <n> <until_ms> <value>` (parsed
/// by `changes.rs`), where `n` counts the stream's changes from 1. It also
/// publishes `<stream> <entry id> <entry>` on the channel
/// `<prefix>:changes`: a cluster's mirror subscribes to it on every primary,
/// so each change reaches it from the primary that made it, in order with
/// that primary's other answers (see `mirror/cluster_feed.rs`).
///
/// Trimming is by time: the feed keeps `h`, the longest `until_ms` minus
/// the time of any change appended, so an entry older than `now - h`
/// describes something already expired, and `XADD … MINID ~` drops it. The
/// feed keeps `t`, the highest threshold used (so it never moves back), and
/// `f`, how many entries trimming removed: trimming removes the oldest, so a
/// reader whose stream starts at the change numbered `n` knows the `n - 1`
/// before were trimmed (expired) if `f` is at least `n - 1`, and removed by
/// hand otherwise. `i` is
/// set when `n` begins (Redis's `TIME`, to the microsecond): a reader that
/// finds another `i` knows the stream it followed is gone.
///
/// Only write scripts append, after their deadline guard: `clock` is its
/// reading of Redis's `TIME`.
pub(crate) const CHANGE_FEED: &str = r"
local STREAM, FEED = KEYS[#KEYS - 1], KEYS[#KEYS]
local function append(kind, key, until_ms, value)
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local n = redis.call('HINCRBY', FEED, 'n', 1)
  if n == 1 then
    local began = redis.call('TIME')
    redis.call('HSET', FEED, 'i', began[1] .. '.' .. began[2])
  end
  local held = redis.call('HMGET', FEED, 'h', 't')
  local h = math.max(tonumber(held[1]) or 0, tonumber(until_ms) - now)
  local t = math.max(tonumber(held[2]) or 0, now - h)
  redis.call('HSET', FEED, 'h', string.format('%d', h), 't', string.format('%d', t))
  local body = kind .. ' ' .. key .. ' ' .. n .. ' ' .. until_ms .. ' ' .. value
  local before = redis.call('XLEN', STREAM)
  local id = redis.call('XADD', STREAM, 'MINID', '~', string.format('%d', t), '*', 'c', body)
  local trimmed = before + 1 - redis.call('XLEN', STREAM)
  if trimmed > 0 then redis.call('HINCRBY', FEED, 'f', trimmed) end
  redis.call('PUBLISH', string.match(STREAM, '^(.-):{') .. ':changes', STREAM .. ' ' .. id .. ' ' .. body)
end
";

/// The answer of a deciding script that found its slot's epoch marker
/// missing (`9`, or `{9}` from the rotation): the data was lost.
pub(crate) const LOST: i64 = 9;

/// The start of every deciding script: reads the epoch marker (the key
/// `$marker`: the last of a check, the last before the change stream's two
/// of a write) into `epoch`. A missing one means this slot's data was lost:
/// the script starts a new epoch, the next whole second by the server's
/// clock (so a token issued in this second, whose `iat` is this second, is
/// refused), and answers `9` (`lost`, wrapped as the script's answer). A
/// marker this crate did not write answers `-2`. The `read_only` form writes
/// nothing: a missing marker only answers `lost`.
///
/// A new epoch is not a change of the stream: a mirror reads the markers
/// themselves (`mirror`).
macro_rules! epoch_guard {
    ($marker:literal, $lost:literal) => {
        concat!(
            r"
local epoch = redis.call('GET', ",
            $marker,
            r")
if not epoch then
  redis.call('SET', ",
            $marker,
            r", tonumber(redis.call('TIME')[1]) + 1)
  return ",
            $lost,
            r"
end
epoch = tonumber(epoch)
if epoch == nil then return -2 end
"
        )
    };
    (read_only $marker:literal, $lost:literal) => {
        concat!(
            r"
local epoch = redis.call('GET', ",
            $marker,
            r")
if not epoch then return ",
            $lost,
            r" end
epoch = tonumber(epoch)
if epoch == nil then return -2 end
"
        )
    };
}

/// What a decode asks. `KEYS`: the id entry, the cutoff, then the latest
/// slot if `ARGV[3]` is `1`, then the family if `ARGV[4]` is `1`, then the
/// epoch marker. `ARGV[1]`: the token's `iat` in seconds, or empty; `ARGV[2]`:
/// its id.
///
/// Answers 0 live, 1 revoked, 2 used, 3 issued before the cutoff,
/// 4 superseded, 5 family revoked, 6 issued before the epoch, 9 lost, -1 a
/// cutoff this crate did not write, -2 an epoch this crate did not write.
/// The order is the memory store's: id, cutoff, slot, family; then the
/// epoch, which a token without `iat` is not compared with.
pub(crate) static CHECK: LazyLock<Script> =
    LazyLock::new(|| primary_only(&format!("{}{CHECK_BODY}", epoch_guard!("KEYS[#KEYS]", "9"))));

/// [`CHECK`] for a read-only store, run as a read-only script
/// ([`ReadOnlyScript`]): the same keys, arguments and answers, but a missing
/// epoch marker only answers [`LOST`] ([`epoch_guard!`]`(read_only …)`),
/// leaving the new epoch to a writing store.
pub(crate) static READ_ONLY_CHECK: LazyLock<ReadOnlyScript> = LazyLock::new(|| {
    ReadOnlyScript::new(format!(
        "{PRIMARY_GUARD}\n{}{CHECK_BODY}",
        epoch_guard!(read_only "KEYS[#KEYS]", "9")
    ))
});

/// What [`CHECK`] decides after its epoch guard.
const CHECK_BODY: &str = r"
local entry = redis.call('GET', KEYS[1])
if entry then
  if string.sub(entry, 1, 5) == 'used:' then return 2 end
  return 1
end
local cutoff = redis.call('GET', KEYS[2])
if cutoff then
  local at = tonumber(string.match(cutoff, '^(%-?%d+):'))
  if at == nil then return -1 end
  if ARGV[1] == '' or tonumber(ARGV[1]) < at then return 3 end
end
local next_key = 3
if ARGV[3] == '1' then
  local latest = redis.call('GET', KEYS[next_key])
  if latest and latest ~= ARGV[2] then return 4 end
  next_key = next_key + 1
end
if ARGV[4] == '1' then
  if redis.call('HGET', KEYS[next_key], 'revoked') ~= '0' then return 5 end
end
if ARGV[1] ~= '' and tonumber(ARGV[1]) < epoch then return 6 end
return 0
";

/// Revokes an id until `ARGV[1]` (ms): a spent id stays spent, and the
/// entry keeps the later of its expiry and the new one. `ARGV[2]`: the id's
/// digest, for its change (`r`, or `u` for a spent id), appended when the
/// entry changed.
pub(crate) static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    write_before_deadline(
        r"
local status = 'revoked'
local entry = redis.call('GET', KEYS[1])
if entry then
  if string.sub(entry, 1, 5) == 'used:' then status = 'used' end
  local held = string.match(entry, ':(%d+)$')
  if held and tonumber(held) >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], status .. ':' .. ARGV[1], 'PXAT', ARGV[1])
append(status == 'used' and 'u' or 'r', ARGV[2], ARGV[1], '-')
return 0
",
    )
});

/// Spends an id once, until `ARGV[1]` (ms): `SET NX PXAT`. `KEYS`: the id
/// entry, the epoch marker, the change stream and its feed; `ARGV[2]`: the
/// token's `iat` in seconds, or empty; `ARGV[3]`: the id's digest, for its
/// change (`u`) when spent now. Answers 0 spent now, 1 spent before, 2 revoked, 3 issued before the
/// epoch (nothing spent), 9 lost (nothing spent), -2 an epoch this crate did
/// not write.
pub(crate) static CONSUME: LazyLock<Script> = LazyLock::new(|| {
    write_before_deadline(concat!(
        epoch_guard!("KEYS[#KEYS - 2]", "9"),
        r"
if ARGV[2] ~= '' and tonumber(ARGV[2]) < epoch then return 3 end
if redis.call('SET', KEYS[1], 'used:' .. ARGV[1], 'NX', 'PXAT', ARGV[1]) then
  append('u', ARGV[3], ARGV[1], '-')
  return 0
end
if string.sub(redis.call('GET', KEYS[1]), 1, 5) == 'used:' then return 1 end
return 2
",
    ))
});

/// Sets the subject's cutoff to the later of the held one and `ARGV[1]`
/// (seconds), kept until the later of the held `until` and `ARGV[2]` (ms).
/// `ARGV[3]`: the subject's digest, for its change (`c`, the cutoff as its
/// value), appended when the entry changed.
pub(crate) static CUTOFF: LazyLock<Script> = LazyLock::new(|| {
    write_before_deadline(
        r"
local cutoff = ARGV[1]
local until_ms = ARGV[2]
local held = redis.call('GET', KEYS[1])
if held then
  local at, held_until = string.match(held, '^(%-?%d+):(%d+)$')
  if at and tonumber(at) > tonumber(cutoff) then cutoff = at end
  if held_until and tonumber(held_until) > tonumber(until_ms) then until_ms = held_until end
end
local entry = cutoff .. ':' .. until_ms
if entry == held then return 0 end
redis.call('SET', KEYS[1], entry, 'PXAT', until_ms)
append('c', ARGV[3], until_ms, cutoff)
return 0
",
    )
});

/// Creates a family. `KEYS`: the family, the subject's index, the change
/// stream and its feed. `ARGV`: id, created (s), expires (s), expires (ms),
/// the cap or empty, the family's digest. Answers `{1}` if the id exists,
/// else `{0, ids…}` with the families revoked by the cap: the oldest live
/// ones (by creation second, then id), as many as keep the subject at the
/// cap with the new one.
///
/// The family's record keeps its digest (`d`), so a later script that
/// revokes it by its id alone (the cap) appends its change (`R`); the new
/// family's change is `f`, until its expiry.
///
/// The index names the subject's other families, which the script reads by
/// the key layout: they share the hash tag, so they are in this slot.
pub(crate) static CREATE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    write_before_deadline(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {1} end
local out = {0}
if ARGV[5] ~= '' then
  local cap = math.max(tonumber(ARGV[5]), 1)
  local base = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
  local live = {}
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if redis.call('HGET', base .. id, 'revoked') == '0' then
      table.insert(live, id)
    else
      redis.call('ZREM', KEYS[2], id)
    end
  end
  for i = 1, #live + 1 - cap do
    redis.call('HSET', base .. live[i], 'revoked', '1')
    redis.call('ZREM', KEYS[2], live[i])
    table.insert(out, live[i])
    local held = redis.call('HMGET', base .. live[i], 'd', 'expires')
    if held[1] then append('R', held[1], tonumber(held[2]) * 1000, '-') end
  end
end
redis.call('HSET', KEYS[1], 'gen', '0', 'created', ARGV[2], 'expires', ARGV[3],
  'last', ARGV[2], 'rotated', '', 'grace', '0', 'revoked', '0', 'd', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
append('f', ARGV[6], ARGV[4], '-')
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local ttl = redis.call('PTTL', KEYS[2])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if ttl < 0 or now_ms + ttl < tonumber(ARGV[4]) then
  redis.call('PEXPIREAT', KEYS[2], ARGV[4])
end
return out
",
    )
});

/// The refresh step, as the memory store's `rotate`. `ARGV`: the presented
/// generation, the presented generation plus one (or empty), now (s), the
/// idle timeout (s, or empty), the grace window (s, or empty), the grace
/// uses, the family's digest. `KEYS`: the family, the epoch marker, the
/// change stream and its feed. A rotation that revokes the family appends
/// its change (`R`, until the family's expiry). Answers `{0, gen, at}`
/// advanced, `{1, gen, at}` grace replay, `{2}` reuse detected, `{3}` revoked
/// or unknown, `{4}` expired, `{9}` lost (nothing rotated), -2 an epoch this
/// crate did not write.
pub(crate) static ROTATE: LazyLock<Script> = LazyLock::new(|| {
    write_before_deadline(concat!(
        epoch_guard!("KEYS[#KEYS - 2]", "{9}"),
        r"
local f = redis.call('HMGET', KEYS[1], 'gen', 'expires', 'last', 'rotated', 'grace', 'revoked')
local gen, expires, last, rotated, grace_uses = f[1], f[2], f[3], f[4], f[5]
if not gen or f[6] ~= '0' then return {3} end
local now = tonumber(ARGV[3])
local idle = ARGV[4] ~= '' and now - tonumber(last) > tonumber(ARGV[4])
local function revoke(answer)
  redis.call('HSET', KEYS[1], 'revoked', '1')
  append('R', ARGV[7], tonumber(expires) * 1000, '-')
  return {answer}
end
if now >= tonumber(expires) or idle then return revoke(4) end
if ARGV[1] == gen then
  if gen == '9223372036854775807' then return revoke(4) end
  redis.call('HINCRBY', KEYS[1], 'gen', 1)
  redis.call('HSET', KEYS[1], 'rotated', ARGV[3], 'last', ARGV[3], 'grace', '0')
  return {0, redis.call('HGET', KEYS[1], 'gen'), ARGV[3]}
end
if ARGV[5] ~= '' and rotated ~= '' and ARGV[2] == gen
  and now - tonumber(rotated) <= tonumber(ARGV[5])
  and tonumber(grace_uses) < tonumber(ARGV[6]) then
  redis.call('HINCRBY', KEYS[1], 'grace', 1)
  return {1, gen, rotated}
end
return revoke(2)
",
    ))
});

/// Records `ARGV[1]` as the latest token of a slot until `ARGV[2]` (ms).
/// `ARGV[3]`, `ARGV[4]`: the digests of the slot and of the token id, for
/// the change (`l`).
pub(crate) static SUPERSEDE: LazyLock<Script> = LazyLock::new(|| {
    write_before_deadline(
        r"
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
append('l', ARGV[3], ARGV[2], ARGV[4])
return 0
",
    )
});

/// Revokes a family, if it exists; the record keeps its expiry. `ARGV[1]`:
/// the family's digest, for its change (`R`, until the family's expiry).
pub(crate) static REVOKE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    write_before_deadline(
        r"
local expires = redis.call('HGET', KEYS[1], 'expires')
if expires then
  redis.call('HSET', KEYS[1], 'revoked', '1')
  append('R', ARGV[1], tonumber(expires) * 1000, '-')
end
return 0
",
    )
});

/// The readiness probe of one slot: 1 if its epoch marker `KEYS[1]` is
/// there, 0 if the slot's data is gone (a primary only, as every script).
pub(crate) static PROBE: LazyLock<Script> = LazyLock::new(|| primary_only(PROBE_BODY));

/// [`PROBE`] for a read-only store, run as a read-only script.
pub(crate) static READ_ONLY_PROBE: LazyLock<ReadOnlyScript> =
    LazyLock::new(|| ReadOnlyScript::new(format!("{PRIMARY_GUARD}\n{PROBE_BODY}")));

const PROBE_BODY: &str = r"
return redis.call('EXISTS', KEYS[1])
";
