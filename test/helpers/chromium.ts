// A real browser for the dashboard tests: Debian's chromium driven by playwright-core (which never
// downloads browsers). CI installs it in .ci/run; elsewhere: apt-get install chromium, or point
// TENSORBIND_CHROMIUM at one. (bench/exatrkx/grafana-shot.mjs launches it the same way.)
export const CHROMIUM = process.env.TENSORBIND_CHROMIUM ?? "/usr/bin/chromium";

/** Headless, no sandbox (containers), and nothing that reaches the network on its own. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
