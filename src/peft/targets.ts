// target_modules as PEFT matches them: a string is a regular expression that must match the whole module
// path; a list matches a module whose path equals an entry or ends with "." + entry; "all-linear" is every
// linear layer but the output head. Also the per-model defaults PEFT uses when none are given.

import type { ModelConfig } from '../formats/model-config';
import { linearSites } from '../model/sites';
import type { LinearSite } from '../model/transformer';

export type TargetModules = string | readonly string[];

export function matchesTarget(site: Pick<LinearSite, 'path'>, targets: TargetModules): boolean {
  if (targets === 'all-linear') return true;
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(site.path);
  return targets.some((t) => site.path === t || site.path.endsWith(`.${t}`));
}

/** Parses a target_modules option: a list, "all-linear", or a regular expression (checked here). */
export function parseTargets(v: unknown, option = 'target_modules'): TargetModules {
  if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === 'string' && x.length > 0))
      throw new Error(`${option}: every entry must be a module name`);
    return v as string[];
  }
  if (typeof v !== 'string' || v.length === 0)
    throw new Error(`${option}: expected a list of module names, a regex or "all-linear"`);
  if (v.includes(',') && !/[\\^$|()[\]*+?]/.test(v))
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  try {
    new RegExp(v);
  } catch (e) {
    throw new Error(
      `${option}: "${v}" is not a valid regular expression (${e instanceof Error ? e.message : e})`,
    );
  }
  return v;
}

/** The sites a target set selects; refuses a set that selects nothing (PEFT raises the same). */
export function selectSites(c: ModelConfig, targets: TargetModules, option = 'target_modules'): LinearSite[] {
  const sites = linearSites(c).filter((s) => matchesTarget(s, targets));
  if (sites.length === 0) {
    const names = [...new Set(linearSites(c).map((s) => s.module))].join(', ');
    throw new Error(
      `${option}: ${JSON.stringify(targets)} matches no linear layer of this ${c.modelType} model (its modules: ${names})`,
    );
  }
  return sites;
}
