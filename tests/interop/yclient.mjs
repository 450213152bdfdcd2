#!/usr/bin/env node
// y-websocket interop driver for Parley's /docs endpoint.
//
// One process = one Y.Doc (+ one WebsocketProvider once connected). A test
// (usually Rust) spawns `node tests/interop/yclient.mjs` and talks to it over
// stdin/stdout with JSON lines: exactly one JSON reply line on stdout per
// command line on stdin, strictly in order. Nothing else is ever written to
// stdout; logs go to stderr. See README.md in this directory for the command
// list.

import * as readline from 'node:readline'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import * as awarenessProtocol from 'y-protocols/awareness'
import WebSocket from 'ws'

// --- keep stdout clean -------------------------------------------------------
// Libraries sometimes console.log; route everything to stderr so that stdout
// carries only protocol replies.
const log = (...args) => console.error('[yclient]', ...args)
console.log = (...args) => console.error(...args)
console.info = (...args) => console.error(...args)
console.debug = (...args) => console.error(...args)

process.on('unhandledRejection', (reason) => {
  log('unhandled rejection:', reason && reason.stack ? reason.stack : reason)
})
process.on('uncaughtException', (err) => {
  log('uncaught exception:', err && err.stack ? err.stack : err)
})

const DEFAULT_TIMEOUT_MS = 10000

// --- state -------------------------------------------------------------------
const doc = new Y.Doc()
const text = doc.getText('content')
// One Awareness instance for the lifetime of the process, shared by every
// provider we create, so the awareness clock keeps increasing across
// reconnects (peers ignore states whose clock is not newer than what they saw).
const awareness = new awarenessProtocol.Awareness(doc)

/** The text of the rich-text fragment "default": its paragraphs' text, one per line. */
function xmlText () {
  return doc.getXmlFragment('default').toArray()
    .map((node) => node instanceof Y.XmlElement ? node.toArray().map((t) => t.toString()).join('') : node.toString())
    .join('\n')
}

/** @type {WebsocketProvider|null} */
let provider = null
/** every close event any provider's websocket saw, in order */
const wsCloses = []
/** every websocket error message, in order */
const wsErrors = []
/** how many times a websocket opened ('status' connected) */
let openCount = 0
/** how many times the provider reported synced=true */
let syncCount = 0

// Generic "something changed" notification used by every waiter: each waiter
// re-checks its predicate whenever anything happens.
const listeners = new Set()
const notify = () => {
  for (const l of Array.from(listeners)) {
    try { l() } catch (e) { log('listener error', e) }
  }
}
doc.on('afterTransaction', notify)
awareness.on('update', notify)

/**
 * Resolve with the predicate's truthy value once it holds, or reject with a
 * timeout error after `timeoutMs`. The predicate is re-evaluated on every doc
 * transaction, awareness update and provider event (no sleep polling).
 */
const waitFor = (pred, timeoutMs, what) => new Promise((resolve, reject) => {
  let done = false
  let timer = null
  const finish = (fn, v) => {
    if (done) return
    done = true
    listeners.delete(check)
    if (timer !== null) clearTimeout(timer)
    fn(v)
  }
  const check = () => {
    let v
    try { v = pred() } catch (e) { finish(reject, e); return }
    if (v) finish(resolve, v)
  }
  listeners.add(check)
  timer = setTimeout(() => finish(reject, new TimeoutError(`timeout after ${timeoutMs}ms waiting for ${what}`)), timeoutMs)
  check()
})

class TimeoutError extends Error {}

const timeoutOf = (c) => {
  const t = c.timeout_ms
  return typeof t === 'number' && t >= 0 ? t : DEFAULT_TIMEOUT_MS
}

const b64 = (u8) => Buffer.from(u8).toString('base64')
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'))

// Canonical JSON (sorted object keys) for value equality.
const canon = (v) => {
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']'
  if (v !== null && typeof v === 'object') {
    return '{' + Object.keys(v).sort().map(k => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}'
  }
  return JSON.stringify(v === undefined ? null : v)
}

const otherStates = () => {
  const out = []
  awareness.getStates().forEach((state, client) => {
    if (client !== doc.clientID) out.push({ client, state })
  })
  return out
}

const closesSummary = () => ({
  ws_close_codes: wsCloses.map(c => c.code),
  ws_closes: wsCloses.slice(),
  ws_errors: wsErrors.slice()
})

const attachProvider = (p) => {
  p.on('connection-close', (event) => {
    const rec = {
      code: event && typeof event.code === 'number' ? event.code : null,
      reason: event && event.reason != null ? String(event.reason) : '',
      wasClean: !!(event && event.wasClean)
    }
    wsCloses.push(rec)
    log('connection-close', JSON.stringify(rec))
    // The provider sets ws=null only after emitting this event: re-check
    // waiters once it has settled.
    setImmediate(notify)
  })
  p.on('connection-error', (event) => {
    const msg = event && (event.message || (event.error && event.error.message)) ? (event.message || event.error.message) : String(event && event.type)
    wsErrors.push(msg)
    log('connection-error', msg)
    notify()
  })
  p.on('status', ({ status }) => {
    if (status === 'connected') openCount++
    log('status', status)
    notify()
  })
  p.on('synced', (s) => {
    if (s) syncCount++
    log('synced', s)
    notify()
  })
}

const stopProvider = async (timeoutMs) => {
  if (provider === null) return
  const p = provider
  p.disconnect()
  if (p.ws !== null) {
    await waitFor(() => p.ws === null, timeoutMs, 'websocket close')
  }
}

// Wait for synced; optionally fail fast on a close. On failure, stop the
// provider's retry loop unless keep_retrying.
const awaitSync = async (c) => {
  const timeoutMs = timeoutOf(c)
  const closesBefore = wsCloses.length
  const p = provider
  try {
    await waitFor(() => {
      if (p.synced) return true
      if (c.fail_on_close && wsCloses.length > closesBefore) {
        const last = wsCloses[wsCloses.length - 1]
        throw new Error(`websocket closed before sync (code ${last.code}${last.reason ? ', reason ' + JSON.stringify(last.reason) : ''})`)
      }
      return false
    }, timeoutMs, 'sync')
  } catch (e) {
    if (!c.keep_retrying) {
      try { await stopProvider(1000) } catch (_) { /* ignore */ }
    }
    const err = new Error(e.message)
    err.extra = closesSummary()
    throw err
  }
  return { client_id: doc.clientID }
}

// --- commands ----------------------------------------------------------------
const commands = {
  async connect (c) {
    if (c.url != null) {
      if (typeof c.url !== 'string' || typeof c.room !== 'string') {
        throw new Error('connect needs string "url" and "room"')
      }
      if (provider !== null) {
        // Replace the provider but keep the same doc + awareness.
        await stopProvider(timeoutOf(c))
        provider.destroy()
        provider = null
      }
      const params = {}
      for (const [k, v] of Object.entries(c.params || {})) params[k] = String(v)
      bumpAwareness(c)
      provider = new WebsocketProvider(c.url, c.room, doc, {
        WebSocketPolyfill: WebSocket,
        awareness,
        params,
        connect: false,
        disableBc: true
      })
      attachProvider(provider)
      provider.connect()
      log('connecting to', provider.url)
      return awaitSync(c)
    }
    if (provider === null) throw new Error('not connected before: connect needs "url" and "room"')
    if (provider.synced && provider.wsconnected) return { client_id: doc.clientID }
    if (!provider.shouldConnect) bumpAwareness(c)
    provider.connect()
    return awaitSync(c)
  },

  async disconnect (c) {
    if (provider === null) throw new Error('no provider')
    await stopProvider(timeoutOf(c))
    return {}
  },

  async wait_synced (c) {
    if (provider === null) throw new Error('no provider')
    await waitFor(() => provider.synced, timeoutOf(c), 'synced')
    return {}
  },

  async wait_close (c) {
    const n = typeof c.count === 'number' ? c.count : wsCloses.length + 1
    try {
      await waitFor(() => wsCloses.length >= n, timeoutOf(c), `${n} websocket close(s)`)
    } catch (e) {
      const err = new Error(e.message)
      err.extra = closesSummary()
      throw err
    }
    return closesSummary()
  },

  async insert (c) {
    const index = c.index
    if (!Number.isInteger(index) || index < 0 || index > text.length) {
      throw new Error(`index ${index} out of range 0..${text.length}`)
    }
    if (typeof c.text !== 'string') throw new Error('"text" must be a string')
    text.insert(index, c.text)
    return { text: text.toString() }
  },

  async delete (c) {
    const { index, len } = c
    if (!Number.isInteger(index) || !Number.isInteger(len) || index < 0 || len < 0 || index + len > text.length) {
      throw new Error(`range ${index}+${len} out of range (length ${text.length})`)
    }
    text.delete(index, len)
    return { text: text.toString() }
  },

  async text () {
    return { text: text.toString() }
  },

  async wait_text (c) {
    if (typeof c.text !== 'string') throw new Error('"text" must be a string')
    try {
      await waitFor(() => text.toString() === c.text, timeoutOf(c), 'text')
    } catch (e) {
      const err = new Error(e.message)
      err.extra = { text: text.toString() }
      throw err
    }
    return { text: text.toString() }
  },

  // A rich-text editor's document (TipTap/ProseMirror: an XmlFragment named "default" of
  // paragraphs): append a paragraph, read the plain text, wait for a piece of it.
  async xml_append (c) {
    if (typeof c.text !== 'string') throw new Error('"text" must be a string')
    const paragraph = new Y.XmlElement('paragraph')
    paragraph.insert(0, [new Y.XmlText(c.text)])
    const fragment = doc.getXmlFragment('default')
    fragment.insert(fragment.length, [paragraph])
    return { text: xmlText() }
  },

  async wait_xml_contains (c) {
    if (typeof c.text !== 'string') throw new Error('"text" must be a string')
    try {
      await waitFor(() => xmlText().includes(c.text), timeoutOf(c), 'xml text')
    } catch (e) {
      const err = new Error(e.message)
      err.extra = { text: xmlText() }
      throw err
    }
    return { text: xmlText() }
  },

  async state () {
    return {
      update: b64(Y.encodeStateAsUpdate(doc)),
      state_vector: b64(Y.encodeStateVector(doc))
    }
  },

  async set_awareness (c) {
    if (c.state !== null && (typeof c.state !== 'object' || Array.isArray(c.state))) {
      throw new Error('"state" must be an object or null')
    }
    awareness.setLocalState(c.state)
    return {}
  },

  async awareness () {
    return { states: otherStates() }
  },

  async wait_awareness (c) {
    const match = c.match || {}
    if (typeof match !== 'object' || Array.isArray(match)) throw new Error('"match" must be an object')
    const keys = Object.keys(match)
    const matches = (s) => s.state != null && typeof s.state === 'object' &&
      keys.every(k => Object.prototype.hasOwnProperty.call(s.state, k) && canon(s.state[k]) === canon(match[k]))
    try {
      const found = await waitFor(() => {
        const m = otherStates().filter(matches)
        return m.length > 0 ? m : null
      }, timeoutOf(c), 'awareness match')
      return { states: found }
    } catch (e) {
      const err = new Error(e.message)
      err.extra = { states: otherStates() }
      throw err
    }
  },

  async wait_awareness_gone (c) {
    const id = Number(c.client)
    if (!Number.isInteger(id)) throw new Error('"client" must be an integer client id')
    try {
      await waitFor(() => !awareness.getStates().has(id), timeoutOf(c), `awareness of ${id} to disappear`)
    } catch (e) {
      const err = new Error(e.message)
      err.extra = { states: otherStates() }
      throw err
    }
    return { states: otherStates() }
  },

  async client_id () {
    return { client_id: doc.clientID }
  },

  async status () {
    return {
      connected: provider !== null && provider.wsconnected,
      connecting: provider !== null && provider.wsconnecting,
      synced: provider !== null && provider.synced,
      should_connect: provider !== null && provider.shouldConnect,
      url: provider !== null ? provider.url : null,
      opens: openCount,
      syncs: syncCount,
      ...closesSummary()
    }
  },

  async relpos (c) {
    const index = c.index
    if (!Number.isInteger(index) || index < 0 || index > text.length) {
      throw new Error(`index ${index} out of range 0..${text.length}`)
    }
    const assoc = Number.isInteger(c.assoc) ? c.assoc : 0
    const rp = Y.createRelativePositionFromTypeIndex(text, index, assoc)
    return { relpos: b64(Y.encodeRelativePosition(rp)) }
  },

  async abspos (c) {
    if (typeof c.relpos !== 'string') throw new Error('"relpos" must be a base64 string')
    const rp = Y.decodeRelativePosition(unb64(c.relpos))
    const abs = Y.createAbsolutePositionFromRelativePosition(rp, doc)
    if (abs === null || abs.type !== text) return { index: null }
    return { index: abs.index, assoc: abs.assoc }
  },

  async quit () {
    await shutdown()
    return { __quit: true }
  }
}

// Before (re)connecting, re-set the local awareness state so its clock
// increases. Otherwise peers that saw our "gone" (null) state at the current
// clock ignore the same-clock state the provider re-sends on open, and we only
// reappear after the 15 s awareness renewal. Opt out with "bump_awareness":false.
function bumpAwareness (c) {
  if (c.bump_awareness === false) return
  const s = awareness.getLocalState()
  if (s !== null) awareness.setLocalState(s)
}

let shutDown = false
async function shutdown () {
  if (shutDown) return
  shutDown = true
  if (provider !== null) {
    try { await stopProvider(1000) } catch (e) { log('close on shutdown:', e.message) }
    provider.destroy()
  }
  awareness.destroy()
}

// --- line protocol -----------------------------------------------------------
const reply = (obj) => new Promise((resolve) => {
  process.stdout.write(JSON.stringify(obj) + '\n', () => resolve())
})

const handleLine = async (line) => {
  if (line.trim() === '') return
  let c
  try {
    c = JSON.parse(line)
  } catch (e) {
    await reply({ ok: false, error: `invalid JSON: ${e.message}` })
    return
  }
  const withId = (o) => (c && c.id !== undefined ? { id: c.id, ...o } : o)
  if (c === null || typeof c !== 'object' || typeof c.cmd !== 'string') {
    await reply(withId({ ok: false, error: 'command must be an object with a string "cmd"' }))
    return
  }
  const fn = Object.prototype.hasOwnProperty.call(commands, c.cmd) ? commands[c.cmd] : null
  if (fn === null) {
    await reply(withId({ ok: false, error: `unknown cmd ${JSON.stringify(c.cmd)}` }))
    return
  }
  if (shutDown && c.cmd !== 'quit') {
    await reply(withId({ ok: false, error: 'shut down' }))
    return
  }
  let res
  try {
    res = await fn(c)
  } catch (e) {
    log(`cmd ${c.cmd} failed:`, e && e.message)
    await reply(withId({ ok: false, error: String(e && e.message ? e.message : e), ...(e && e.extra ? e.extra : {}) }))
    return
  }
  if (res && res.__quit) {
    await reply(withId({ ok: true }))
    process.exit(0)
  }
  await reply(withId({ ok: true, ...res }))
}

// Strictly sequential: each line waits for the previous command's reply.
let queue = Promise.resolve()
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false })
rl.on('line', (line) => {
  queue = queue.then(() => handleLine(line)).catch((e) => log('handler error', e))
})
rl.on('close', () => {
  queue = queue.then(async () => {
    await shutdown()
    process.exit(0)
  })
})
