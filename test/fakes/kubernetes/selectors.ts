// Label and field selectors as the API server parses and applies them (equality, set-based, existence).
import type { KubeObject } from './types.ts';

export interface LabelRequirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!exists';
  values: string[];
}

export interface FieldRequirement {
  path: string;
  op: '=' | '!=';
  value: string;
}

export function parseLabelSelector(selector: string): LabelRequirement[] {
  const requirements: LabelRequirement[] = [];
  // Split on commas outside parentheses.
  const parts = selector.match(/([^,(]+(\([^)]*\))?)+/g) ?? [];
  for (const rawPart of parts) {
    const part = rawPart.trim();
    if (!part) continue;
    let match: RegExpExecArray | null;
    if ((match = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part)))
      requirements.push({ key: match[1]!, op: match[2] as 'in' | 'notin', values: match[3]!.split(',').map((v) => v.trim()) });
    else if ((match = /^(\S+?)\s*(==|=|!=)\s*(\S*)$/.exec(part)))
      requirements.push({ key: match[1]!, op: match[2] === '!=' ? 'notin' : 'in', values: [match[3]!] });
    else if ((match = /^!(\S+)$/.exec(part))) requirements.push({ key: match[1]!, op: '!exists', values: [] });
    else requirements.push({ key: part, op: 'exists', values: [] });
  }
  return requirements;
}

export function parseFieldSelector(selector: string): FieldRequirement[] {
  return selector
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
      if (!match) throw new Error(`invalid field selector "${part}"`);
      return { path: match[1]!, op: match[2] === '!=' ? '!=' : '=', value: match[3]! };
    });
}

export function matches(object: KubeObject, labels: LabelRequirement[], fields: FieldRequirement[]): boolean {
  const own: Record<string, string> = object.metadata?.labels ?? {};
  for (const requirement of labels) {
    const has = requirement.key in own;
    const value = own[requirement.key];
    if (requirement.op === 'exists' && !has) return false;
    if (requirement.op === '!exists' && has) return false;
    if (requirement.op === 'in' && (!has || !requirement.values.includes(value!))) return false;
    if (requirement.op === 'notin' && has && requirement.values.includes(value!)) return false;
  }
  for (const requirement of fields) {
    let current: unknown = object;
    for (const part of requirement.path.split('.'))
      current = current && typeof current === 'object' ? (current as KubeObject)[part] : undefined;
    const value = current === undefined || current === null ? '' : String(current);
    if (requirement.op === '=' && value !== requirement.value) return false;
    if (requirement.op === '!=' && value === requirement.value) return false;
  }
  return true;
}

/** A LabelSelector object (matchLabels, matchExpressions) or a Service's plain selector map, against an object's labels. */
export function selectorMatches(
  selector: { matchLabels?: Record<string, string>; matchExpressions?: KubeObject[] } | Record<string, string>,
  labels: Record<string, string> | undefined,
): boolean {
  const own = labels ?? {};
  const structured = 'matchLabels' in selector || 'matchExpressions' in selector;
  const matchLabels = (structured ? selector.matchLabels : selector) as Record<string, string> | undefined;
  for (const [key, value] of Object.entries(matchLabels ?? {})) if (own[key] !== value) return false;
  for (const expression of (structured ? (selector.matchExpressions as KubeObject[] | undefined) : undefined) ?? []) {
    const has = expression.key in own;
    const values: string[] = expression.values ?? [];
    if (expression.operator === 'In' && (!has || !values.includes(own[expression.key]!))) return false;
    if (expression.operator === 'NotIn' && has && values.includes(own[expression.key]!)) return false;
    if (expression.operator === 'Exists' && !has) return false;
    if (expression.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
