// equalIgnoreHash compares pod templates as the deployment controller does: the hash label and empty-vs-missing do not count.
import { describe, expect, it } from 'vitest';
import { equalIgnoreHash, formatImages, imagesOf, withoutHashLabel } from '../../../../src/tasks/rollback/template.ts';

const template = (labels: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  metadata: { labels },
  spec: { containers: [{ name: 'api', image: 'api:1.0', ...extra }] },
});

describe('equalIgnoreHash', () => {
  it('ignores the pod-template-hash label, and nothing else', () => {
    expect(equalIgnoreHash(template({ app: 'api', 'pod-template-hash': 'abc' }), template({ app: 'api' }))).toBe(true);
    expect(equalIgnoreHash(template({ app: 'api' }), template({ app: 'web' }))).toBe(false);
    expect(equalIgnoreHash(template({ app: 'api' }), template({ app: 'api' }, { image: 'api:1.1' }))).toBe(false);
  });

  it('treats missing, null and empty alike, and key order as irrelevant (Semantic.DeepEqual)', () => {
    expect(equalIgnoreHash(template({ app: 'api' }, { env: [] }), template({ app: 'api' }, { args: null }))).toBe(true);
    const a = { metadata: { labels: { a: '1', b: '2' } }, spec: { containers: [{ name: 'x', image: 'y' }] } };
    const b = { spec: { containers: [{ image: 'y', name: 'x' }] }, metadata: { labels: { b: '2', a: '1' } } };
    expect(equalIgnoreHash(a, b)).toBe(true);
  });

  it('leaves the template it was given alone when removing the hash label', () => {
    const original = template({ app: 'api', 'pod-template-hash': 'abc' });
    expect(withoutHashLabel(original).metadata?.labels).toEqual({ app: 'api' });
    expect(original.metadata.labels['pod-template-hash']).toBe('abc');
  });
});

describe('images', () => {
  it('shows one image as it is, several as container=image', () => {
    expect(formatImages(imagesOf(template({})))).toBe('api:1.0');
    expect(
      formatImages([
        { container: 'api', image: 'api:1' },
        { container: 'proxy', image: 'envoy:1.30' },
      ]),
    ).toBe('api=api:1, proxy=envoy:1.30');
  });
});
