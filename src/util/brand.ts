/**
 * Nominal types at no runtime cost: a `Term` cannot be passed where a `LogIndex` is expected.
 * Brands are created only at gateways (decoders, config loading, tests) by the constructors that
 * validate them.
 */
export type Brand<T, B extends string> = T & { readonly __brand: B };
