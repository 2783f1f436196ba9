// Block Kit as Slack checks it: the limits a message's or a view's blocks are refused for.
import { isRecord } from './args.ts';
import { LIMITS } from './types.ts';

export function textOf(value: unknown): string | undefined {
  return isRecord(value) && typeof value.text === 'string' ? value.text : undefined;
}

/** The Block Kit limits Slack rejects a message or view for; undefined when none is broken. */
export function blocksProblem(blocks: unknown[], maxBlocks: number): string | undefined {
  if (blocks.length > maxBlocks) return `no more than ${maxBlocks} items allowed [json-pointer:/blocks]`;
  const blockIds = new Set<string>();
  for (const [i, block] of blocks.entries()) {
    const at = `[json-pointer:/blocks/${i}]`;
    if (!isRecord(block) || typeof block.type !== 'string') return `missing required field: type ${at}`;
    if (typeof block.block_id === 'string') {
      if (blockIds.has(block.block_id)) return `duplicate block_id ${at}`;
      blockIds.add(block.block_id);
    }
    if (block.type === 'section') {
      const text = textOf(block.text);
      const fields = Array.isArray(block.fields) ? block.fields : undefined;
      if (text === undefined && !fields) return `must provide either text or fields ${at}`;
      if (text !== undefined && (text.length === 0 || text.length > LIMITS.sectionText))
        return `must be between 1 and ${LIMITS.sectionText} characters [json-pointer:/blocks/${i}/text/text]`;
      if (fields && fields.length > LIMITS.fields)
        return `no more than ${LIMITS.fields} items allowed [json-pointer:/blocks/${i}/fields]`;
      if (fields?.some((f) => (textOf(f) ?? '').length > LIMITS.fieldText))
        return `must be less than ${LIMITS.fieldText} characters [json-pointer:/blocks/${i}/fields]`;
    }
    if (block.type === 'header' && (textOf(block.text) ?? '').length > LIMITS.headerText)
      return `must be less than ${LIMITS.headerText} characters [json-pointer:/blocks/${i}/text/text]`;
    if ((block.type === 'actions' || block.type === 'context') && !Array.isArray(block.elements))
      return `missing required field: elements ${at}`;
  }
  return undefined;
}
