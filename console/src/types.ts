// Types of the API's records, generated from the gateway's merged OpenAPI document
// (openapi.json, `npm run types`): the console reads the API exactly as any client does.
import type { components } from "./api";

type Schemas = components["schemas"];
export type FunderOverview = Schemas["FunderOverview"];
export type Grant = Schemas["Grant"];
export type Schedule = Schemas["Schedule"];
export type Round = Schemas["Round"];
export type Result = Schemas["Result"];
export type Scorecard = Schemas["Scorecard"];
export type PublicCommitment = Schemas["PublicCommitment"];
export type FunderSharing = Schemas["FunderSharing"];
export type Reply = Schemas["Reply"];
export type Message = Schemas["Message"];
