import { Module } from '@nestjs/common';
import { DigestHandlers } from './digest.handlers.js';

/** The module each worker thread of the 'cpu' pool boots: the providers of its handlers. */
@Module({ providers: [DigestHandlers] })
export class CpuModule {}
