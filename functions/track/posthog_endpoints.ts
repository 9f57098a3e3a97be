// The side requests posthog-js makes besides capture, answered the way a PostHog project with no
// feature flags, no session recording, no surveys and no site apps answers them, so the library
// runs silently with its default settings (no 404 and no console error in a visitor's browser):
//   GET  /array/<token>/config.js   remote config as a script: window._POSTHOG_REMOTE_CONFIG[token]
//   GET  /array/<token>/config      the same remote config as JSON
//   POST /flags/?v=2[&config=true]  flag evaluation: no flags ({ flags: {} }); v1 clients get the
//                                   legacy { featureFlags: {}, featureFlagPayloads: {} }
//   POST /decide/?v=3|4             the legacy endpoint: config plus no flags
//   GET  /static/[<version>/]<name>.js   the library's lazily loaded extension bundles (surveys.js,
//                                   which it loads even with surveys off, recorder.js, ...), served
//                                   from the posthog-js package pinned in package.json, as PostHog's
//                                   asset host serves them
// The shapes follow what PostHog's own servers return (remote config: the `config.js` served from
// /array/<token>/; flags: the Rust flags service's v2 response). Nothing here is stored or counted.
import { corsHeaders } from "../_shared/cors.ts";
import { json, jsonError } from "../_shared/http.ts";

export type PostHogEndpoint =
  | { kind: "config-js"; token: string }
  | { kind: "config"; token: string }
  | { kind: "flags" }
  | { kind: "decide" }
  | { kind: "static"; file: string };

// A project token as PostHog issues them (phc_...), or any id a site chose; embedded in a script,
// so it is restricted to characters that need no escaping anywhere.
const TOKEN = /^[A-Za-z0-9_-]{1,200}$/;

/** The endpoint a path under /track names, or null when it is none of them. `rest` has no /track prefix. */
export function postHogEndpointOf(rest: string): PostHogEndpoint | "bad-token" | null {
  const config = /^\/array\/([^/]+)\/config(\.js)?$/.exec(rest);
  if (config) {
    const token = decodeURIComponentSafe(config[1]);
    if (token === null || !TOKEN.test(token)) return "bad-token";
    return { kind: config[2] ? "config-js" : "config", token };
  }
  const asset = /^\/static\/(?:[0-9]+\.[0-9]+\.[0-9]+[^/]*\/)?([a-z0-9-]+\.js)$/.exec(rest);
  if (asset) return { kind: "static", file: asset[1] };
  if (rest === "/flags") return { kind: "flags" };
  if (rest === "/decide") return { kind: "decide" };
  return null;
}

function decodeURIComponentSafe(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/**
 * Remote config with everything off: capture goes to /i/v0/e/ (which track accepts), autocapture
 * stays as the library's default, and nothing makes the library load extra scripts or call other
 * endpoints (recording, surveys, heatmaps, dead clicks, web vitals, exceptions, site apps).
 */
export function remoteConfig(token: string) {
  return {
    token,
    supportedCompression: ["gzip", "gzip-js"],
    hasFeatureFlags: false,
    captureDeadClicks: false,
    capturePerformance: false,
    autocapture_opt_out: false,
    autocaptureExceptions: false,
    analytics: { endpoint: "/i/v0/e/" },
    elementsChainAsString: true,
    errorTracking: { autocaptureExceptions: false, suppressionRules: [] },
    logs: { captureConsoleLogs: false },
    sessionRecording: false,
    heatmaps: false,
    conversations: false,
    surveys: false,
    productTours: false,
    defaultIdentifiedOnly: true,
    siteApps: [],
  };
}

// The remote config changes only with this code: let browsers and CDNs keep it for 5 minutes,
// as PostHog's own asset host does.
const CONFIG_CACHE = { "Cache-Control": "public, max-age=300" };

// The posthog-js package's browser bundles (deployed with the function: static_files in
// supabase/config.toml).
const POSTHOG_DIST = new URL("../../node_modules/posthog-js/dist/", import.meta.url);

async function staticAsset(method: string, file: string): Promise<Response> {
  if (method !== "GET" && method !== "HEAD") return notAllowed(method, "GET, HEAD, OPTIONS");
  let body: Uint8Array;
  try {
    body = await Deno.readFile(new URL(file, POSTHOG_DIST));
  } catch {
    return jsonError(404, `file: no posthog-js bundle named ${file}`, "file");
  }
  return new Response(method === "HEAD" ? null : body as BlobPart, {
    status: 200,
    headers: {
      ...corsHeaders,
      "Content-Type": "application/javascript; charset=utf-8",
      "Cache-Control": "public, max-age=86400",
      "X-Content-Type-Options": "nosniff",
    },
  });
}

/** Answers one of posthog-js's side endpoints. */
export async function answerPostHogEndpoint(req: Request, endpoint: PostHogEndpoint): Promise<Response> {
  const method = req.method;
  if (endpoint.kind === "static") return await staticAsset(method, endpoint.file);
  if (endpoint.kind === "config-js" || endpoint.kind === "config") {
    if (method !== "GET" && method !== "HEAD") return notAllowed(method, "GET, HEAD, OPTIONS");
    const config = remoteConfig(endpoint.token);
    if (endpoint.kind === "config") return json(config, 200, CONFIG_CACHE);
    const { siteApps, ...rest } = config;
    const script = `(function() {
  window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};
  window._POSTHOG_REMOTE_CONFIG[${JSON.stringify(endpoint.token)}] = {
    config: ${JSON.stringify(rest)},
    siteApps: ${JSON.stringify(siteApps)}
  };
})();
`;
    return new Response(method === "HEAD" ? null : script, {
      status: 200,
      headers: {
        ...corsHeaders,
        ...CONFIG_CACHE,
        "Content-Type": "application/javascript; charset=utf-8",
        "X-Content-Type-Options": "nosniff",
      },
    });
  }

  if (method !== "POST" && method !== "GET") return notAllowed(method, "GET, POST, OPTIONS");
  const params = new URL(req.url).searchParams;
  const version = Number(params.get("v") ?? (endpoint.kind === "decide" ? 3 : 1));
  const noFlags = version >= 2 && endpoint.kind === "flags"
    ? { flags: {}, errorsWhileComputingFlags: false, requestId: crypto.randomUUID() }
    : { featureFlags: {}, featureFlagPayloads: {}, errorsWhileComputingFlags: false };
  // /decide always carries the config; /flags only when asked (config=true), as PostHog's does.
  const withConfig = endpoint.kind === "decide" || params.get("config") === "true";
  const { token: _token, siteApps, ...config } = remoteConfig("");
  const body = withConfig
    ? { ...config, siteApps, config: { enable_collect_everything: true }, toolbarParams: {}, ...noFlags }
    : noFlags;
  return json(body, 200, { "Cache-Control": "no-store" });
}

function notAllowed(method: string, allow: string): Response {
  return json({ error: `method: ${method} not allowed`, field: "method" }, 405, { Allow: allow });
}

/** A JSON 404 for a config path whose token is not one. */
export function badToken(): Response {
  return jsonError(404, "token: not a project token ([A-Za-z0-9_-], at most 200 characters)", "token");
}
