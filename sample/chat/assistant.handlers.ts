import { Injectable } from '@nestjs/common';
import { type TaskContext, TaskHandler } from '../../lib/index.js';

/** A slower task, like a model call: about 100 ms each, one at a time per user. */
@Injectable()
export class AssistantHandlers {
  @TaskHandler('assistant.reply')
  async reply(prompt: { userId: string; text: string }, ctx: TaskContext): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 80 + Math.random() * 40));
    return `(${ctx.laneId}) re: ${prompt.text}`;
  }
}
