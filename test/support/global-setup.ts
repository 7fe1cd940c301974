// One Consul dev agent for the whole suite; tests that kill Consul start their own.

import 'vitest';
import type { TestProject } from 'vitest/node';
import { ConsulAgent, consulBinary } from './consul.js';

let agent: ConsulAgent | undefined;

export async function setup(project: TestProject): Promise<void> {
  const bin = consulBinary();
  agent = new ConsulAgent(bin);
  await agent.start();
  project.provide('consulAddress', agent.address);
  project.provide('consulBin', bin);
}

export async function teardown(): Promise<void> {
  await agent?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    consulAddress: string;
    consulBin: string;
  }
}
