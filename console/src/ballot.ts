// Answer a feedback round anonymously in the browser: RFC 9474 RSA blind signatures,
// RSABSSA-SHA384-PSS-Randomized, the same steps as the trellis_ballot Python package,
// with the Web Crypto API (SHA-384, SHA-256, RSA-PSS verification) and BigInt arithmetic.
//
// 1. take: fetch the round's ballot key WITHOUT a token and check it is the key the round
//    shows the signed-in person (a key made for one partner alone would mark its ballot);
//    blind a random message; send the blinded message with the token; unblind and verify.
// 2. cast: send the answer with the ballot and nothing of the person (no token, no cookie).

import { API } from "./data";

const HASH_LEN = 48; // SHA-384
const SALT_LEN = 48;
const PREFIX_LEN = 32;

export interface Ballot {
  round_id: string;
  key_id: string;
  message: string; // base64url
  signature: string; // base64url
}

const b64 = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64 = (text: string) => {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
};
const toInt = (bytes: Uint8Array) => bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
function toBytes(x: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--, x >>= 8n) out[i] = Number(x & 0xffn);
  if (x !== 0n) throw new Error("integer too large");
  return out;
}
function modPow(base: bigint, exp: bigint, n: bigint): bigint {
  let result = 1n;
  base %= n;
  for (; exp > 0n; exp >>= 1n, base = (base * base) % n) if (exp & 1n) result = (result * base) % n;
  return result;
}
function modInverse(a: bigint, n: bigint): bigint {
  let [r0, r1, s0, s1] = [n, a % n, 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error("not invertible");
  return ((s0 % n) + n) % n;
}
const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
const sha = async (name: "SHA-256" | "SHA-384", data: Uint8Array) => new Uint8Array(await crypto.subtle.digest(name, data as BufferSource));
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};
const random = (length: number) => crypto.getRandomValues(new Uint8Array(length));

async function mgf1(seed: Uint8Array, length: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let counter = 0; chunks.length * HASH_LEN < length; counter++) {
    chunks.push(await sha("SHA-384", concat(seed, toBytes(BigInt(counter), 4))));
  }
  return concat(...chunks).slice(0, length);
}

/** EMSA-PSS-ENCODE (RFC 8017 9.1.1) with SHA-384, MGF1-SHA-384 and a 48-byte salt. */
async function pssEncode(msg: Uint8Array, emBits: number): Promise<Uint8Array> {
  const mHash = await sha("SHA-384", msg);
  const emLen = Math.ceil(emBits / 8);
  const salt = random(SALT_LEN);
  const h = await sha("SHA-384", concat(new Uint8Array(8), mHash, salt));
  const db = concat(new Uint8Array(emLen - SALT_LEN - HASH_LEN - 2), Uint8Array.of(1), salt);
  const mask = await mgf1(h, emLen - HASH_LEN - 1);
  const masked = db.map((b, i) => b ^ mask[i]);
  masked[0] &= 0xff >> (8 * emLen - emBits);
  return concat(masked, h, Uint8Array.of(0xbc));
}

function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}

async function bearerFetch(path: string, token: string, body: unknown) {
  const response = await fetch(`${API}${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(json.detail ?? `Taking the ballot: ${response.status}`);
  return json;
}

/** Take a ballot for a round (once per round). Take it early, cast later. */
export async function takeBallot(roundId: string, token: string): Promise<Ballot> {
  const keyResponse = await fetch(`${API}/public/feedback/rounds/${roundId}/ballot-key`, { credentials: "omit" });
  const key = await keyResponse.json();
  if (!keyResponse.ok) throw new Error(key.detail ?? "The round has no ballot key.");
  const roundResponse = await fetch(`${API}/rounds/${roundId}`, { headers: { Authorization: `Bearer ${token}` } });
  const round = await roundResponse.json();
  const der = pemToDer(key.public_key);
  const keyId = Array.from(await sha("SHA-256", der), (b) => b.toString(16).padStart(2, "0")).join("");
  if (keyId !== key.key_id || round.ballot_key_id !== key.key_id) {
    throw new Error(
      "The ballot key shown to you signed in differs from the public one: a key for you alone would identify your answer. Do not answer anonymously; tell the funder.",
    );
  }
  const publicKey = await crypto.subtle.importKey("spki", der as BufferSource, { name: "RSA-PSS", hash: "SHA-384" }, true, ["verify"]);
  const jwk = await crypto.subtle.exportKey("jwk", publicKey);
  const n = toInt(unb64(jwk.n!));
  const e = toInt(unb64(jwk.e!));
  const kLen = Math.ceil(n.toString(2).length / 8);

  const prepared = concat(random(PREFIX_LEN), random(32));
  const m = toInt(await pssEncode(prepared, n.toString(2).length - 1));
  if (gcd(m, n) !== 1n) throw new Error("invalid input");
  let r = 0n;
  while (r === 0n || gcd(r, n) !== 1n) r = toInt(random(kLen)) % n;
  const inv = modInverse(r, n);
  const blinded = (m * modPow(r, e, n)) % n;

  const signed = await bearerFetch(`/rounds/${roundId}/ballots`, token, { blinded_message: b64(toBytes(blinded, kLen)) });
  if (signed.key_id !== key.key_id) throw new Error("The ballot was signed with another key than the round's public one.");
  const signature = toBytes((toInt(unb64(signed.blind_signature)) * inv) % n, kLen);
  const ok = await crypto.subtle.verify({ name: "RSA-PSS", saltLength: SALT_LEN }, publicKey, signature as BufferSource, prepared as BufferSource);
  if (!ok) throw new Error("The ballot's signature does not check.");
  return { round_id: roundId, key_id: key.key_id, message: b64(prepared), signature: b64(signature) };
}

/** Cast the answer with the ballot and nothing of the person: no token, no cookie. */
export async function cast(ballot: Ballot, answer: { ratings: unknown[]; comment?: string }) {
  const response = await fetch(`${API}/rounds/${ballot.round_id}/anonymous-responses`, {
    method: "POST",
    credentials: "omit",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-Ballot": `${ballot.message}.${ballot.signature}` },
    body: JSON.stringify(answer),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(json.detail ?? `Casting the answer: ${response.status}`);
  return json;
}

const STORE = "trellis-ballots";

/** Ballots are kept on this device only: a ballot is the only key to the answer. */
export function keptBallot(roundId: string): Ballot | null {
  const all = JSON.parse(localStorage.getItem(STORE) ?? "{}") as Record<string, Ballot>;
  return all[roundId] ?? null;
}

export function keepBallot(ballot: Ballot): void {
  const all = JSON.parse(localStorage.getItem(STORE) ?? "{}") as Record<string, Ballot>;
  localStorage.setItem(STORE, JSON.stringify({ ...all, [ballot.round_id]: ballot }));
}
