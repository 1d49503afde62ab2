/** The sans-I/O keyless codec: constants, frames, deframing. */
export * from './constants.ts'
export * from './frame.ts'
export * from './deframer.ts'
