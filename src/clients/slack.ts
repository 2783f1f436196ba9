// The bot's Slack Web API client: Slack's WebClient with bounded retries, error metrics and redacted logging.
import { WebClient, type WebAPICallResult, type WebClientOptions } from '@slack/web-api';
import type { Logger } from '../log.ts';
import { slackLogger } from '../log.ts';
import type { Metrics } from '../metrics.ts';

export interface SlackClientOptions {
  token: string;
  apiUrl?: string | undefined;
  logger: Logger;
  metrics: Metrics;
  /** Retries for rate limits and transient failures; Slack's default (10 over ~30 min) is too patient for a chat reply. */
  retries?: number;
}

class MeteredWebClient extends WebClient {
  readonly #metrics: Metrics;
  constructor(token: string, options: WebClientOptions, metrics: Metrics) {
    super(token, options);
    this.#metrics = metrics;
  }

  override async apiCall(method: string, options?: Record<string, unknown>): Promise<WebAPICallResult> {
    try {
      return await super.apiCall(method, options);
    } catch (error) {
      this.#metrics.slackApiErrors.inc({ method, error: slackErrorCode(error) });
      throw error;
    }
  }
}

export function createSlackClient(options: SlackClientOptions): WebClient {
  const clientOptions: WebClientOptions = {
    logger: slackLogger(options.logger) as unknown as WebClientOptions['logger'],
    retryConfig: { retries: options.retries ?? 3, factor: 2, minTimeout: 500, maxTimeout: 5_000, randomize: true },
    timeout: 15_000,
  };
  if (options.apiUrl) clientOptions.slackApiUrl = options.apiUrl;
  return new MeteredWebClient(options.token, clientOptions, options.metrics);
}

/** Slack's error code ("channel_not_found", "ratelimited", …) or the SDK's own code. */
export function slackErrorCode(error: unknown): string {
  const data = (error as { data?: { error?: unknown } }).data;
  if (typeof data?.error === 'string') return data.error;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'unknown';
}
