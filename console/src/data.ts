// ra-data-simple-rest, unchanged, over /api/v1; a thin HTTP client adds the bearer token,
// an Idempotency-Key on every POST and, on an update, If-Match with the ETag of the version
// the person read (react-admin's previousData), so nobody overwrites a change unseen.
import simpleRestProvider from "ra-data-simple-rest";
import { fetchUtils, HttpError, type DataProvider } from "react-admin";
import { currentUser } from "./auth";

export const API = "/api/v1";

/** What a person reads when someone else changed the record first (412 on If-Match). */
export const STALE =
  "Someone changed this record since you opened it, so your change was not saved. Reload the page to see their change, then make yours again.";

/** The ETag of a record's version, as the API writes it (services/common/concurrency.py). */
export function etagOf(record: { version?: unknown } | undefined | null): string | undefined {
  return typeof record?.version === "number" ? `"v${record.version}"` : undefined;
}

async function httpClient(url: string, options: fetchUtils.Options = {}) {
  const headers = new Headers(options.headers ?? { Accept: "application/json" });
  const user = await currentUser();
  if (user) headers.set("Authorization", `Bearer ${user.access_token}`);
  if ((options.method ?? "GET").toUpperCase() === "POST" && !headers.has("Idempotency-Key")) {
    headers.set("Idempotency-Key", crypto.randomUUID());
  }
  try {
    return await fetchUtils.fetchJson(url, { ...options, headers });
  } catch (error) {
    // A problem+json answer says what to fix in `detail`: show that, not the status text.
    if (error instanceof HttpError && error.status === 412) throw new HttpError(STALE, 412, error.body);
    if (error instanceof HttpError && error.body && typeof error.body === "object") {
      const detail = (error.body as { detail?: string }).detail;
      if (detail) throw new HttpError(detail, error.status, error.body);
    }
    throw error;
  }
}

const base = simpleRestProvider(API, httpClient);

/** The same HTTP client, with If-Match naming the version the person read. */
function matching(ifMatch: string | undefined) {
  if (!ifMatch) return httpClient;
  return (url: string, options: fetchUtils.Options = {}) => {
    const headers = new Headers(options.headers ?? { Accept: "application/json" });
    headers.set("If-Match", ifMatch);
    return httpClient(url, { ...options, headers });
  };
}

export interface TrellisDataProvider extends DataProvider {
  /** GET any path under /api/v1 (views, sub-resources) */
  read<T = unknown>(path: string): Promise<T>;
  /** POST an action (approve, pay, reply, open) */
  act<T = unknown>(path: string, body: unknown, ifMatch?: string): Promise<T>;
  /** PUT a singleton (settings) with If-Match */
  put<T = unknown>(path: string, body: unknown, ifMatch?: string): Promise<T>;
  /** POST a file's text (CSV or JSON) as it is, e.g. an import */
  upload<T = unknown>(path: string, text: string, contentType: string): Promise<T>;
  /** Fetch a file with the bearer token and hand it to the browser as a download */
  download(path: string, filename: string): Promise<void>;
}

export const dataProvider: TrellisDataProvider = {
  ...base,
  update(resource, params) {
    return simpleRestProvider(API, matching(etagOf(params.previousData))).update(resource, params);
  },
  async read<T>(path: string) {
    const { json } = await httpClient(`${API}${path}`);
    return json as T;
  },
  async act<T>(path: string, body: unknown, ifMatch?: string) {
    const headers = new Headers({ Accept: "application/json", "Content-Type": "application/json" });
    if (ifMatch) headers.set("If-Match", ifMatch);
    const { json } = await httpClient(`${API}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      headers,
    });
    return json as T;
  },
  async put<T>(path: string, body: unknown, ifMatch?: string) {
    const { json } = await matching(ifMatch)(`${API}${path}`, {
      method: "PUT",
      body: JSON.stringify(body),
      headers: new Headers({ Accept: "application/json", "Content-Type": "application/json" }),
    });
    return json as T;
  },
  async upload<T>(path: string, text: string, contentType: string) {
    const { json } = await httpClient(`${API}${path}`, {
      method: "POST",
      body: text,
      headers: new Headers({ Accept: "application/json", "Content-Type": contentType }),
    });
    return json as T;
  },
  async download(path: string, filename: string) {
    const user = await currentUser();
    const response = await fetch(`${API}${path}`, {
      headers: user ? { Authorization: `Bearer ${user.access_token}` } : {},
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => null);
      throw new HttpError(problem?.detail ?? `The file could not be read (${response.status}).`, response.status, problem);
    }
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  },
};

/** Anonymous reads (public pages): no token at all. */
export async function publicRead<T>(path: string): Promise<T> {
  const { json } = await fetchUtils.fetchJson(`${API}${path}`);
  return json as T;
}

export function money(minor: number | null | undefined, currency = "GBP"): string {
  if (minor === null || minor === undefined) return "—";
  return new Intl.NumberFormat("en-GB", { style: "currency", currency }).format(minor / 100);
}

/** "45,000.50" pounds as 4500050 pence: parsed as text, never through a float. */
export function toMinor(major: string | number | null | undefined): number | null {
  if (major === null || major === undefined || major === "") return null;
  const text = String(major).replace(/[,\s£]/g, "");
  const match = /^(-?)(\d+)(?:\.(\d{0,2}))?$/.exec(text);
  if (!match) return Number.NaN;
  const [, sign, whole, cents = ""] = match;
  const minor = Number(whole) * 100 + Number(cents.padEnd(2, "0"));
  return sign ? -minor : minor;
}

/** 4500050 pence as "45000.50", for a form field. */
export function toMajor(minor: number | null | undefined): string {
  if (minor === null || minor === undefined) return "";
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}
