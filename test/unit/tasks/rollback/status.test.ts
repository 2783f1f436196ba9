// rolloutStatus decides as kubectl's DeploymentStatusViewer does, and followTimeout gives the progress deadline a minute more.
import { describe, expect, it } from 'vitest';
import type { Deployment } from '../../../../src/tasks/rollback/objects.ts';
import { followTimeout, rolloutStatus } from '../../../../src/tasks/rollback/status.ts';

function deployment(spec: { replicas?: number; generation?: number }, status: Deployment['status']): Deployment {
  return {
    metadata: { name: 'api', generation: spec.generation ?? 2 },
    spec: {
      ...(spec.replicas !== undefined ? { replicas: spec.replicas } : {}),
      selector: { matchLabels: { app: 'api' } },
      template: { spec: { containers: [{ name: 'api', image: 'api:1' }] } },
    },
    status,
  };
}

describe('rolloutStatus', () => {
  it('waits for the controller to observe the new generation first', () => {
    const status = rolloutStatus(
      deployment({ replicas: 3 }, { observedGeneration: 1, updatedReplicas: 3, availableReplicas: 3 }),
    );
    expect(status).toMatchObject({
      done: false,
      failed: undefined,
      message: 'Waiting for deployment spec update to be observed...',
    });
  });

  it("says, in kubectl's words, what the rollout is still waiting for", () => {
    expect(rolloutStatus(deployment({ replicas: 3 }, { observedGeneration: 2, updatedReplicas: 1, replicas: 4 })).message).toBe(
      'Waiting for deployment "api" rollout to finish: 1 out of 3 new replicas have been updated...',
    );
    expect(
      rolloutStatus(deployment({ replicas: 3 }, { observedGeneration: 2, updatedReplicas: 3, replicas: 4, availableReplicas: 3 }))
        .message,
    ).toBe('Waiting for deployment "api" rollout to finish: 1 old replicas are pending termination...');
    expect(
      rolloutStatus(deployment({ replicas: 3 }, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 2 }))
        .message,
    ).toBe('Waiting for deployment "api" rollout to finish: 2 of 3 updated replicas are available...');
  });

  it('is done when every replica is updated and available, and failed once the progress deadline passed', () => {
    expect(
      rolloutStatus(
        deployment({ replicas: 3 }, { observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 3 }),
      ),
    ).toMatchObject({ done: true, message: 'deployment "api" successfully rolled out' });
    const stuck = rolloutStatus(
      deployment(
        { replicas: 3 },
        {
          observedGeneration: 2,
          updatedReplicas: 1,
          conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
        },
      ),
    );
    expect(stuck).toMatchObject({ done: false, failed: 'deployment "api" exceeded its progress deadline' });
  });

  it('takes a deployment without spec.replicas as one replica, as the API defaults it', () => {
    expect(
      rolloutStatus(deployment({}, { observedGeneration: 2, updatedReplicas: 1, replicas: 1, availableReplicas: 1 })),
    ).toMatchObject({ done: true, desired: 1 });
  });
});

describe('followTimeout', () => {
  it('follows a minute past the progress deadline (600 s by default), never longer than the cap', () => {
    expect(followTimeout(undefined)).toBe(660_000);
    expect(followTimeout(30)).toBe(90_000);
    expect(followTimeout(3_600, 19 * 60_000)).toBe(19 * 60_000);
  });
});
