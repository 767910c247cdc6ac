/**
 * MCP tasks (SEP-1686, protocol 2025-11-25) for the gateway's `tools/call`: the task store of one
 * gateway session, and the bounds of a task's lifetime.
 *
 * - One store per session: `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel` see only
 *   the tasks that session created (every session of a gateway is the same agent, so the session is
 *   the narrower binding; another session's task id is "not found", never listed).
 * - A task is deleted `ttl` ms after it was created (the spec's retention from creation); terminal
 *   states are final (a cancelled task never turns completed).
 */
import { randomUUID } from 'node:crypto';
import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import {
  ErrorCode,
  McpError,
  type Request,
  type RequestId,
  type Result,
  type Task,
} from '@modelcontextprotocol/sdk/types.js';

/** Longest lifetime of a task the gateway creates, and the lifetime when the client asks for none. */
export const MAX_TASK_TTL_MS = 3_600_000;
/** How long the result of a held call stays readable after its approval would have expired. */
export const RESULT_RETENTION_MS = 300_000;
/** The poll interval the gateway suggests for a task (`tasks/get`). */
export const TASK_POLL_MS = 1_000;

const TERMINAL = new Set<Task['status']>(['completed', 'failed', 'cancelled']);
export const isTerminalStatus = (s: Task['status']) => TERMINAL.has(s);

/**
 * The ttl of a task: what the client asked for, at most {@link MAX_TASK_TTL_MS}; for a held call
 * also at most until the approval expires plus {@link RESULT_RETENTION_MS} (after the expiry the
 * call can only fail, and its outcome is kept that long).
 */
export function taskTtl(requested: number | null | undefined, expiresAt?: string, now = Date.now()): number {
  let ttl = typeof requested === 'number' && requested > 0 ? Math.min(requested, MAX_TASK_TTL_MS) : MAX_TASK_TTL_MS;
  const exp = expiresAt ? Date.parse(expiresAt) : Number.NaN;
  if (Number.isFinite(exp)) ttl = Math.min(ttl, Math.max(0, exp - now) + RESULT_RETENTION_MS);
  return Math.max(1_000, Math.round(ttl));
}

interface Stored {
  task: Task;
  result?: Result;
  timer: ReturnType<typeof setTimeout>;
}

const notFound = (taskId: string) => new McpError(ErrorCode.InvalidParams, `Task not found: ${taskId}`);

/** The tasks of one gateway session (in memory, like the session's upstream connection). */
export class SessionTaskStore implements TaskStore {
  private readonly tasks = new Map<string, Stored>();

  async createTask(params: CreateTaskOptions, _requestId: RequestId, _request: Request): Promise<Task> {
    const now = new Date().toISOString();
    const ttl = taskTtl(params.ttl);
    const task: Task = {
      taskId: randomUUID(),
      status: 'working',
      ttl,
      createdAt: now,
      lastUpdatedAt: now,
      pollInterval: params.pollInterval ?? TASK_POLL_MS,
    };
    const timer = setTimeout(() => this.tasks.delete(task.taskId), ttl);
    timer.unref?.();
    this.tasks.set(task.taskId, { task, timer });
    return { ...task };
  }

  async getTask(taskId: string): Promise<Task | null> {
    const s = this.tasks.get(taskId);
    return s ? { ...s.task } : null;
  }

  private live(taskId: string): Stored {
    const s = this.tasks.get(taskId);
    if (!s) throw notFound(taskId);
    if (isTerminalStatus(s.task.status))
      throw new McpError(ErrorCode.InvalidParams, `Task ${taskId} is already ${s.task.status}`);
    return s;
  }

  async storeTaskResult(taskId: string, status: 'completed' | 'failed', result: Result): Promise<void> {
    const s = this.live(taskId);
    s.result = result;
    s.task = { ...s.task, status, lastUpdatedAt: new Date().toISOString() };
  }

  async getTaskResult(taskId: string): Promise<Result> {
    const s = this.tasks.get(taskId);
    if (!s) throw notFound(taskId);
    if (!s.result) throw new McpError(ErrorCode.InvalidParams, `Task ${taskId} has no result (${s.task.status})`);
    return s.result;
  }

  async updateTaskStatus(taskId: string, status: Task['status'], statusMessage?: string): Promise<void> {
    const s = this.live(taskId);
    s.task = {
      ...s.task,
      status,
      ...(statusMessage !== undefined ? { statusMessage } : {}),
      lastUpdatedAt: new Date().toISOString(),
    };
  }

  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const all = [...this.tasks.values()].map((s) => s.task);
    const from = cursor ? all.findIndex((t) => t.taskId === cursor) + 1 : 0;
    if (cursor && from === 0) throw new McpError(ErrorCode.InvalidParams, `Invalid cursor: ${cursor}`);
    const page = all.slice(from, from + 50);
    return {
      tasks: page.map((t) => ({ ...t })),
      ...(from + 50 < all.length ? { nextCursor: page.at(-1)!.taskId } : {}),
    };
  }

  /** Drops every task and its timer (the session closed). */
  clear(): void {
    for (const s of this.tasks.values()) clearTimeout(s.timer);
    this.tasks.clear();
  }
}
