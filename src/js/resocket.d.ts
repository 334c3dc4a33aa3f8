// The npm package's types (hand-written: the class is src/js/resocket.js).
/** Where a socket is in its life. `closed` and `failed` are final. */
export type ReSocketState = "connecting" | "open" | "reconnecting" | "offline" | "parked" | "closed" | "failed";

/** What `send` accepts (in JSON mode, also any JSON-serialisable value). */
export type ReSocketData = string | ArrayBuffer | ArrayBufferView | Blob;

/** A server close, as handed to `shouldRetry`. */
export interface ReSocketCloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

/** An application-level heartbeat: a ping after `interval` ms without inbound messages. */
export interface ReSocketHeartbeat {
  /** The ping sent (default `{"type":"ping"}`); any inbound message counts as the answer. */
  message?: string;
  /** Quiet time before a ping, in ms (default 15000, must be > 0). */
  interval?: number;
  /** Time without any inbound message after a ping before the link counts as dead (default 10000, at least 4). */
  timeout?: number;
}

/**
 * The resume protocol (docs/PROTOCOL.md): exactly-once, in-order delivery both ways across
 * reconnects against a server that speaks it (the Rust adapter for axum, the Node adapter for `ws`).
 */
export interface ReSocketResume {
  /** A server that does not select `resocket.resume.v1`: fail (default) or use plain mode. */
  fallback?: "fail" | "plain";
  /** Sent messages kept until the server acknowledges them (default 1024). */
  maxBuffered?: number;
  /** Payload bytes kept until acknowledged (default 1 MiB). */
  maxBufferedBytes?: number;
  /** A full resend buffer drops its oldest message (default; the server reports the gap) or holds new messages back in the outbox (`"wait"`). */
  overflow?: "drop-oldest" | "wait";
  /** After a `reset`, the unconfirmed messages are sent again as new ones (default) or dropped (`discarded` event). */
  onReset?: "requeue" | "drop";
}

/** `send()`'s second argument: what happens to a message that has not gone out when a connection is lost. */
export type ReSocketSendOptions =
  | { readonly onReconnect?: "replay" | "drop"; readonly ttl?: never }
  | { readonly ttl: number; readonly onReconnect?: never };

/** Options of a `ReSocket`. A wrong key, type or value throws a `TypeError` naming it. */
export interface ReSocketOptions {
  /** Subprotocols offered (also the constructor's second argument). */
  protocols?: string | string[];
  /** How binary messages are delivered (default `"blob"`, as in the browser). */
  binaryType?: BinaryType;
  /** JSON mode: `send` stringifies values, `message` events carry parsed values. */
  json?: boolean;
  /** Ceiling of the first retry delay in ms (default 500). */
  minDelay?: number;
  /** Largest retry delay in ms (default 30000, must be >= minDelay). */
  maxDelay?: number;
  /** Growth of the delay per attempt (default 2, must be >= 1). */
  factor?: number;
  /** Randomness applied to the delay (default `"full"`: a random delay up to the ceiling). */
  jitter?: "full" | "equal" | "none";
  /** Failed attempts before giving up (`failed` state); `null` or `Infinity`: never (default). */
  maxRetries?: number | null;
  /** How long a connection must stay open before the attempt counter resets, in ms (default 5000). */
  stableAfter?: number;
  /** A socket still connecting after this many ms is closed and retried (default 10000, at least 4: the browser's timer floor). */
  connectTimeout?: number;
  /** Whether a server close is retried (default: all but 1000, 1002, 1003, 1007, 1008, 1009, 1010 and 1015). */
  shouldRetry?: (close: ReSocketCloseInfo) => boolean;
  /** Messages the outbox holds while down (default 1024). */
  outboxMessages?: number;
  /** Payload bytes the outbox holds while down (default 4 MiB). */
  outboxBytes?: number;
  /** What a full outbox does: throw (`"reject"`, default) or drop and fire `outboxoverflow`. */
  overflow?: "reject" | "drop-oldest" | "drop-newest";
  /** Application-level heartbeat (default off). */
  heartbeat?: ReSocketHeartbeat | null | false;
  /** `bufferedAmount` above which the Rust `Sink` waits (default 1 MiB). */
  highWaterMark?: number;
  /** Inbound messages larger than this many bytes become an `error` event instead (default none). */
  maxMessageBytes?: number | null;
  /** Refuse `ws://` except to localhost (default false). */
  secureOnly?: boolean;
  /** Seed of the jitter random generator, for reproducible delays. */
  jitterSeed?: number;
  /**
   * The WebSocket class to connect with (default: the global `WebSocket`). For runtimes
   * without one (Node.js before 22): `{ WebSocket }` with `import { WebSocket } from 'ws'`.
   */
  WebSocket?: new (url: string, protocols?: string | string[]) => unknown;
  /**
   * Speak the resume protocol (default off); `true` for its defaults. Only the class of the
   * `resocket/resume` entry has it built in: the default entry throws a `TypeError` for it.
   */
  resume?: boolean | ReSocketResume | null;
}

/** Counters since the socket was created. */
export interface ReSocketStats {
  readonly connects: number;
  readonly reconnects: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Messages put back into the outbox because a dying socket never sent them. */
  readonly requeued: number;
  readonly lastHeartbeatRttMs: number | null;
  /** Messages waiting to be sent. */
  readonly outboxLength: number;
  /**
   * Messages handed to the current socket whose bytes may not all have left the browser
   * (`bufferedAmount`): the ones put back into the outbox if the socket dies now.
   */
  readonly inFlight: number;
  /** Resume mode: sent messages kept until the server acknowledges them. */
  readonly unacked: number;
  /** Resume mode: received messages discarded as duplicates. */
  readonly duplicates: number;
}

/** `detail` of `statechange`, `reconnecting`, `offline` and `parked` events. */
export interface ReSocketStateDetail {
  readonly state: ReSocketState;
  /** Failed attempts so far (connecting, reconnecting). */
  readonly attempt?: number;
  /** Wait before the next attempt in ms (reconnecting). */
  readonly delay?: number;
  /** Close code and reason (closed). */
  readonly code?: number;
  readonly reason?: string;
  /** Messages still queued when `close()` was called (closed). */
  readonly unsent?: number;
}

/** Events of a `ReSocket`, by type. */
export interface ReSocketEventMap {
  open: Event;
  message: MessageEvent;
  close: CloseEvent;
  error: ErrorEvent;
  statechange: CustomEvent<ReSocketStateDetail>;
  reconnecting: CustomEvent<ReSocketStateDetail>;
  offline: CustomEvent<ReSocketStateDetail>;
  /** The page went into the back/forward cache: the socket was closed, and reconnects on return. */
  parked: CustomEvent<ReSocketStateDetail>;
  outboxoverflow: CustomEvent<{ readonly dropped: number }>;
  heartbeattimeout: CustomEvent<{ readonly silentMs: number }>;
  /** Resume mode: the session handshake completed (right after `open`). */
  resumed: CustomEvent<{ readonly resumed: boolean; readonly resent: number; readonly replayed: number }>;
  /** Resume mode: server messages `from..to` will never arrive. */
  gap: CustomEvent<{ readonly from: number; readonly to: number }>;
  /**
   * Resume mode: the server lost or ended the session. Server messages from `missedFrom` on may
   * never arrive; the client's `unconfirmed` range (none when from > to) may or may not have.
   */
  reset: CustomEvent<{ readonly missedFrom: number; readonly unconfirmed: readonly [number, number] }>;
  /** Messages dropped (`onReconnect: 'drop'`, or a reset with `onReset: 'drop'`) or expired (`ttl`) instead of sent. */
  discarded: CustomEvent<{ readonly dropped: number; readonly expired: number }>;
}

/** A URL, or a function called before every attempt (to refresh a token, say). */
export type ReSocketUrl = string | URL | (() => string | URL | PromiseLike<string | URL>);

/** The async iterator of `for await (const data of socket)`. */
export interface ReSocketIterator<T> extends AsyncIterableIterator<T> {
  next(): Promise<IteratorResult<T, undefined>>;
  return(): Promise<IteratorResult<T, undefined>>;
}

/**
 * A reconnecting WebSocket with the browser `WebSocket` API: swap `new WebSocket(url)` for
 * `new ReSocket(url)`. Messages sent while down wait in an outbox and go out, in order, on
 * the next open. `close()` ends it for good.
 * In JSON mode `message` data (and what the iterator yields) is the parsed value.
 */
export class ReSocket extends EventTarget {
  constructor(url: ReSocketUrl, protocols?: string | string[], options?: ReSocketOptions);
  constructor(url: ReSocketUrl, options?: ReSocketOptions);
  /**
   * Resolves once the engine (the wasm) is loaded. Not needed to use the class: a socket
   * constructed earlier connects at once and is handed over; its `open` and plain messages
   * are dispatched before the engine is there (sends wait for it). After it, every bad argument
   * throws from the constructor; before it, a `secureOnly` or URL-function socket reports a
   * bad URL or subprotocol with an `error` event and ends `failed`.
   */
  static readonly ready: Promise<void>;
  /** Resolves with the socket once it is first open; rejects if it fails or is closed first. */
  static connect(url: ReSocketUrl, options?: ReSocketOptions): Promise<ReSocket>;
  /**
   * Closes the socket (if it is not closed yet) and frees its wasm side at once, without waiting
   * for the garbage collector. Every use after it throws an `Error` with `kind: "Freed"`.
   */
  free(): void;

  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
  /**
   * 0 while connecting or waiting to reconnect, 1 open, 2 closing (also from your own `close()`
   * until its `close` event, which comes as a task of its own), 3 closed or failed.
   */
  readonly readyState: 0 | 1 | 2 | 3;
  readonly state: ReSocketState;
  readonly stats: ReSocketStats;
  /** The URL as parsed (relative resolved, http(s) as ws(s)), without userinfo, query or fragment. */
  readonly url: string;
  readonly protocol: string;
  readonly extensions: string;
  /** Bytes not yet sent: the socket's buffer, the outbox and sends behind a Blob being read. */
  readonly bufferedAmount: number;
  /** As the browser's: setting anything but "blob" or "arraybuffer" is ignored. */
  binaryType: BinaryType;

  onopen: ((this: ReSocket, event: Event) => void) | null;
  onmessage: ((this: ReSocket, event: MessageEvent) => void) | null;
  onclose: ((this: ReSocket, event: CloseEvent) => void) | null;
  onerror: ((this: ReSocket, event: ErrorEvent) => void) | null;

  /**
   * Sends now, or queues while down (also while CONNECTING, where `WebSocket` throws). Throws
   * after `close()` or when the outbox is full. In JSON mode, any JSON-serialisable value;
   * otherwise other values are sent as their string, as the browser's `send()` does.
   */
  send(data: ReSocketData | object | number | boolean | null, options?: ReSocketSendOptions): void;
  /**
   * Closes for good; returns what was queued and never sent. As the browser's: `code` must be
   * 1000 or 3000-4999 (else an `InvalidAccessError` DOMException), `reason` at most 123 UTF-8
   * bytes (else a `SyntaxError` DOMException); without a code the close event reports 1005.
   */
  close(code?: number, reason?: string): Array<string | ArrayBuffer | Blob>;
  /** Drops the current connection (if any) and connects again now. */
  reconnect(): void;

  addEventListener<K extends keyof ReSocketEventMap>(
    type: K,
    listener: (event: ReSocketEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof ReSocketEventMap>(
    type: K,
    listener: (event: ReSocketEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | EventListenerOptions,
  ): void;
  dispatchEvent(event: Event): boolean;

  /** Every message from now on, as `event.data` would be. */
  [Symbol.asyncIterator](): ReSocketIterator<unknown>;
}
