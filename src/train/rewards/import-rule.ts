// The one rule for `import` in a reward's source, shared by the check that runs before any worker starts
// (js.ts) and the two sandboxes' own checks (their worker sources interpolate it), so the three cannot drift:
// `import` where what follows it (spaces skipped) could open a call or a comment: `(`, `.`, `/`, and the
// HTML-like `<!--` and `-->` comments a script allows, through which `import<!--⏎(` once got past the
// workers' own check. Property names (`x.import`) and keys (`{ import: 1 }`) stay allowed.
export const IMPORT_IN_SOURCE = /(^|[^.\w$])import(?=\s*[(./<-])/;
