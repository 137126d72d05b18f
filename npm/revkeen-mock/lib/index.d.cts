// Types of the revkeen-mock package. The admin API's shapes come from admin.d.ts,
// generated from specs/admin.yaml by openapi-typescript (scripts/npm-test checks it is
// current).
import type { components, operations } from './admin.js';

type Schemas = components['schemas'];

/** The simulated clock: its time and whether it is frozen. */
export type Clock = Schemas['Clock'];
/** A fault rule to add (`match` what, `action` which failure, how often, how many times). */
export type FaultRuleInput = Schemas['FaultRuleInput'];
/** An active fault rule, with its id and how often it fired. */
export type FaultRule = Schemas['FaultRule'];
/** What a journal count matches (all given fields must match; `path` is a prefix). */
export type RequestMatcher = Schemas['RequestMatcher'];
/** One request the mock answered, as its journal keeps it. */
export type JournalEntry = Schemas['JournalEntry'];
/** What a key's run met: operations x statuses, simulator states, error classes, gaps. */
export type Coverage = Schemas['Coverage'];
/** Filters of `requests.list`. */
export type RequestFilter = NonNullable<operations['adminListRequests']['parameters']['query']>;

export interface StartMockOptions {
  /** The starting world: a built-in fixture (`default`, `breaker-open`, `degraded`,
   * `mappings`, `partners`, `auth-cases`) or a fixture file's path. Default: `default`. */
  fixture?: string;
  /** Seed of every generated id, so runs repeat. */
  seed?: number;
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on. Default: 127.0.0.1. */
  host?: string;
  /** An OpenAPI document to serve instead of the embedded contract. */
  spec?: string;
  /** Check every answer against the spec and log a breach as an error. */
  strict?: boolean;
  /** The admin token the mock requires (and this handle sends). None by default: on
   * 127.0.0.1 the admin API is open to local processes without one. */
  adminToken?: string;
  /** More `revkeen-mock serve` flags, e.g. `['--rate-limit', 'staging']`. */
  args?: string[];
  /** Environment variables for the mock, over this process's. */
  env?: Record<string, string>;
  /** The binary to run. Default: REVKEEN_MOCK_BINARY, else this platform's package's. */
  binary?: string;
  /** `inherit` echoes the mock's log to this process's output; `pipe` (the default)
   * keeps its last 200 lines for `logs()` and error messages. */
  logs?: 'pipe' | 'inherit';
  /** How long to wait for the mock to listen. Default: 10,000 ms. */
  timeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before it kills. Default: 5,000 ms. */
  stopTimeoutMs?: number;
}

export interface Mock {
  /** The API's base URL, e.g. `http://127.0.0.1:41234/v2`: give it to the code under test. */
  url: string;
  /** `http://127.0.0.1:41234`. */
  origin: string;
  /** The admin API's base URL (`/__mock`); its dashboard is `${adminUrl}/ui`. */
  adminUrl: string;
  port: number;
  pid: number | undefined;
  /** The mock's last log lines. */
  logs(): string[];
  /** Stops the mock gracefully (SIGTERM; killed after `stopTimeoutMs`). Also done when
   * this process exits, however it exits. Calling it again returns the same promise. */
  stop(): Promise<void>;
  /** Back to the starting fixture (every merchant, or only `key`'s). */
  reset(options?: { key?: string }): Promise<void>;
  /** Replaces the state with a built-in fixture, or one from `--fixtures-dir`, by name. */
  loadFixture(name: string): Promise<void>;
  clock: {
    get(): Promise<Clock>;
    /** Sets the simulated time (an ISO 8601 time or a Date). */
    set(now: string | Date): Promise<Clock>;
    /** Moves simulated time forward, running every sync and breaker transition due. */
    advance(seconds: number): Promise<Clock>;
    freeze(): Promise<Clock>;
    resume(): Promise<Clock>;
  };
  faults: {
    /** Adds one rule or several; resolves to every active rule. */
    add(rules: FaultRuleInput | FaultRuleInput[]): Promise<FaultRule[]>;
    list(): Promise<FaultRule[]>;
    remove(id: string): Promise<void>;
    clear(): Promise<void>;
  };
  requests: {
    /** How many answered requests match (`{}`: all). */
    count(matcher?: RequestMatcher): Promise<number>;
    /** Answered requests, latest first. */
    list(filter?: RequestFilter): Promise<JournalEntry[]>;
    clear(): Promise<void>;
  };
  /** What `key`'s tests met (in run `run`, sent as X-Mock-Run; the key's default run otherwise). */
  coverage(key: string, run?: string): Promise<Coverage>;
}

/** Starts the mock on a free port (or `options.port`) and resolves once it answers. */
export declare function startMock(options?: StartMockOptions): Promise<Mock>;

/** An admin call the mock refused (with its `status` and the API's `error`), or a mock
 * that would not start (with its `logs`). */
export declare class MockError extends Error {
  status?: number;
  error?: { code: string; message: string; [field: string]: unknown };
  logs?: string[];
}

/** The binary `startMock` and the `revkeen-mock` command run on this machine; throws,
 * saying what to do, when this platform has none. */
export declare function binaryPath(): string;
