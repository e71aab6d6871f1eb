// A partner's or a front end's code, typed by a client generated from the merged
// OpenAPI document (openapi-typescript + openapi-fetch). It must compile under
// `tsc --strict`: a list's items, its Content-Range header and a problem's `detail`
// are all typed, with no casts.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type Problem = components["schemas"]["Problem"];

export interface Seen {
  names: string[];
  contentRange: string | null;
  problemStatus: number;
  problemDetail: string;
  problemErrors: string[];
}

export async function readFunders(baseUrl: string, token: string): Promise<Seen> {
  const client = createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${token}` },
  });

  const list = await client.GET("/api/v1/funders", {
    params: { query: { range: "[0,9]" } },
  });
  if (list.error) {
    const detail: string = list.error.detail;
    throw new Error(detail);
  }
  const names: string[] = list.data.map((funder) => funder.name);
  const contentRange: string | null = list.response.headers.get("Content-Range");

  const missing = await client.GET("/api/v1/funders/{funder_id}", {
    params: { path: { funder_id: "00000000-0000-4000-8000-000000000000" } },
  });
  if (missing.data !== undefined) {
    throw new Error("expected a problem for a funder that does not exist");
  }
  const problem: Problem = missing.error;

  const invalid = await client.POST("/api/v1/funders", {
    body: { name: "", slug: "x", org_id: "GB-CHC-1", prefix_360giving: "bad" },
  });
  const errors: string[] = invalid.error ? Object.keys(invalid.error.errors ?? {}) : [];

  return {
    names,
    contentRange,
    problemStatus: problem.status,
    problemDetail: problem.detail,
    problemErrors: errors,
  };
}
