// ra-data-simple-rest, unchanged, over /api/v1; a thin HTTP client adds the bearer token,
// an Idempotency-Key on every POST and If-Match where the caller read an ETag.
import simpleRestProvider from "ra-data-simple-rest";
import { fetchUtils, HttpError, type DataProvider } from "react-admin";
import { currentUser } from "./auth";

export const API = "/api/v1";

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
    if (error instanceof HttpError && error.body && typeof error.body === "object") {
      const detail = (error.body as { detail?: string }).detail;
      if (detail) throw new HttpError(detail, error.status, error.body);
    }
    throw error;
  }
}

const base = simpleRestProvider(API, httpClient);

export interface TrellisDataProvider extends DataProvider {
  /** GET any path under /api/v1 (views, sub-resources) */
  read<T = unknown>(path: string): Promise<T>;
  /** POST an action (approve, pay, reply, open) */
  act<T = unknown>(path: string, body: unknown, ifMatch?: string): Promise<T>;
}

export const dataProvider: TrellisDataProvider = {
  ...base,
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
