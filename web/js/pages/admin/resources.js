// The admin sections' resource descriptions: for each configuration resource of the API
// (docs/openapi.yaml), its URL, the columns of its list and the fields of its form, with the
// limits the API enforces (used as input hints only: the API is the validator and its 422 field
// errors are shown beside the fields). `write` lists the roles that may create / change / delete
// (docs/rbac.md); a role that may read but not write sees the same form read-only.
// Field types: text, password (write-only: empty = unchanged), textarea, number, bool,
// select (options or ref: a resource whose names are the choices; nullable adds "none"),
// multi (a set of options), pairs (skill + number rows), capacity (number per channel),
// json (a JSON value edited as text).

const CHANNELS = ["voice", "chat", "email", "sms", "social"];
const NAME = { key: "name", type: "text", required: true, pattern: "^[a-z0-9._-]+$", maxLength: 64 };
const ADMIN_ONLY = { create: ["admin"], update: ["admin"], delete: ["admin"] };

export const RESOURCES = [
  {
    id: "users", path: "/api/v1/users", event: "users", roles: ["admin", "supervisor"], write: ADMIN_ONLY,
    columns: ["username", "display_name", "role", "language", "disabled"],
    fields: [
      { key: "username", type: "text", required: true, pattern: "^[a-z0-9._-]+$", maxLength: 64, createOnly: true },
      { key: "display_name", type: "text", maxLength: 128 },
      { key: "role", type: "select", options: ["admin", "supervisor", "qa", "agent"], required: true },
      { key: "password", type: "password", minLength: 8, maxLength: 256 },
      { key: "language", type: "select", options: ["en", "ko", "zh"] },
      { key: "disabled", type: "bool" },
    ],
  },
  {
    id: "agents", path: "/api/v1/agents", event: "agents", roles: ["admin", "supervisor"],
    write: { create: ["admin"], update: ["admin", "supervisor"], delete: ["admin"] },
    columns: ["name", "display_name", "user", "extension", "skills", "enabled"],
    fields: [
      { ...NAME, createOnly: true },
      { key: "display_name", type: "text", maxLength: 128 },
      { key: "user", type: "select", ref: "users", refKey: "username", nullable: true },
      { key: "extension", type: "text", pattern: "^[0-9]+$", minLength: 2, maxLength: 16, nullable: true },
      { key: "sip_password", type: "password", minLength: 8, maxLength: 128 },
      { key: "skills", type: "pairs", ref: "skills", valueKey: "proficiency", min: 1, max: 10 },
      { key: "capacity", type: "capacity", limits: { voice: 1, chat: 20, email: 50, sms: 20, social: 20 } },
      { key: "voice_exclusive", type: "bool" },
      { key: "enabled", type: "bool" },
    ],
  },
  {
    id: "skills", path: "/api/v1/skills", event: "skills", roles: ["admin", "supervisor"], write: ADMIN_ONLY,
    columns: ["name", "description"],
    fields: [{ ...NAME, createOnly: true }, { key: "description", type: "textarea", maxLength: 256 }],
  },
  {
    id: "queues", path: "/api/v1/queues", event: "queues", roles: ["admin", "supervisor"], write: ADMIN_ONLY,
    columns: ["name", "display_name", "channels", "strategy", "skills", "calendar"],
    fields: [
      { ...NAME, createOnly: true },
      { key: "display_name", type: "text", maxLength: 128 },
      { key: "channels", type: "multi", options: CHANNELS },
      { key: "skills", type: "pairs", ref: "skills", valueKey: "min_proficiency", min: 1, max: 10 },
      { key: "priority", type: "number", min: 0, max: 100 },
      { key: "strategy", type: "select", options: ["longest-idle", "most-skilled", "least-occupied", "fewest-contacts", "round-robin", "ring-all", "sticky"] },
      { key: "sla_percent", type: "number", min: 1, max: 100 },
      { key: "sla_seconds", type: "number", min: 1, max: 86400 },
      { key: "wrap_up_s", type: "number", min: 0, max: 3600 },
      { key: "offer_timeout_s", type: "number", min: 5, max: 600 },
      { key: "max_no_answer", type: "number", min: 0, max: 100 },
      { key: "max_wait_s", type: "number", min: 0, max: 86400 },
      { key: "overflow_action", type: "select", options: ["none", "queue", "voicemail", "callback"] },
      { key: "overflow_queue", type: "select", ref: "queues", refKey: "name", nullable: true },
      { key: "recording", type: "select", options: ["off", "always"] },
      { key: "calendar", type: "select", ref: "calendars", refKey: "name", nullable: true },
      { key: "short_abandon_s", type: "number", min: 0, max: 60 },
      { key: "acceleration_per_min", type: "number", min: 0, max: 1000 },
      { key: "max_priority", type: "number", min: 0, max: 100000 },
      { key: "reoffer_delay_s", type: "number", min: 0, max: 3600 },
      { key: "sticky_s", type: "number", min: 0, max: 3600 },
      { key: "sticky_fallback", type: "select", options: ["longest-idle", "most-skilled", "least-occupied", "fewest-contacts", "round-robin"] },
      { key: "relax", type: "json", kind: "array", rows: 4 },
    ],
  },
  {
    id: "calendars", path: "/api/v1/calendars", event: "calendars", roles: ["admin", "supervisor"], write: ADMIN_ONLY,
    columns: ["name", "time_zone"],
    fields: [
      { ...NAME, createOnly: true },
      { key: "time_zone", type: "text", required: true, maxLength: 64 },
      { key: "hours", type: "json", kind: "array", rows: 8 },
      { key: "holidays", type: "json", kind: "array", rows: 5 },
    ],
  },
  {
    id: "entry-points", path: "/api/v1/entry-points", event: "entry_points", roles: ["admin", "supervisor"], write: ADMIN_ONLY,
    columns: ["name", "channel", "address", "queue", "flow", "enabled"],
    fields: [
      { ...NAME, createOnly: true },
      { key: "channel", type: "select", options: CHANNELS, required: true },
      { key: "address", type: "text", required: true, maxLength: 256 },
      { key: "queue", type: "select", ref: "queues", refKey: "name", nullable: true },
      { key: "flow", type: "select", ref: "flows", refKey: "name", nullable: true },
      { key: "calendar", type: "select", ref: "calendars", refKey: "name", nullable: true },
      { key: "enabled", type: "bool" },
      { key: "allowed_origins", type: "text", maxLength: 1024, nullable: true, hint: true },
      { key: "topics", type: "json", kind: "array", rows: 4 },
    ],
  },
  {
    id: "flows", path: "/api/v1/flows", event: "flows", roles: ["admin", "supervisor"], write: ADMIN_ONLY,
    columns: ["name", "description", "language", "start"],
    upload: true,
    fields: [
      { ...NAME, createOnly: true },
      { key: "description", type: "textarea", maxLength: 256, nullable: true },
      { key: "language", type: "select", options: ["en", "ko", "zh", "yue"] },
      { key: "start", type: "text", required: true, maxLength: 63 },
      { key: "nodes", type: "json", kind: "object", rows: 16, required: true },
    ],
  },
  {
    // Canned responses (docs/web.md): texts agents insert from the reply composer's picker.
    id: "canned_responses", path: "/api/v1/canned_responses", event: "canned_responses",
    roles: ["admin", "supervisor"], write: ADMIN_ONLY,
    columns: ["name", "title", "language", "channels", "queues"],
    emptyMeansAll: ["channels", "queues"],
    fields: [
      { ...NAME, createOnly: true },
      { key: "title", type: "text", required: true, maxLength: 128 },
      { key: "body", type: "textarea", required: true, maxLength: 4000, rows: 5, hint: true },
      { key: "language", type: "text", maxLength: 35, nullable: true, hint: true },
      { key: "channels", type: "multi", options: ["chat", "email", "sms", "social"], defaultValue: [], hint: true },
      { key: "queues", type: "refset", ref: "queues", refKey: "name", itemKey: "queue", hint: true },
    ],
  },
];

export { CHANNELS };
