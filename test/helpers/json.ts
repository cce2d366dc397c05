/**
 * JSON bodies as tests read them: through assertions, which fail on a wrong shape, so the value
 * is typed loosely rather than declared for each endpoint.
 */

// biome-ignore lint/suspicious/noExplicitAny: a body read only through expect(), see above
export type JsonBody = any;

/** The JSON body of a response. */
export async function jsonOf(res: Response | Promise<Response>): Promise<JsonBody> {
  return (await res).json();
}

/** Fetches a URL and returns its JSON body. */
export function getJson(url: string, init?: RequestInit): Promise<JsonBody> {
  return jsonOf(fetch(url, init));
}
