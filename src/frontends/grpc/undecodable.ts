import {
  ServerInterceptingCall,
  type ServerInterceptor,
  type ServiceDefinition,
  status,
} from "@grpc/grpc-js";

/**
 * grpc-js answers a request it cannot deserialize with INTERNAL, as if the server had failed.
 * The service's deserializers are wrapped to hand on a marker instead of throwing, and
 * `rejectUndecodable` ends such a call with INVALID_ARGUMENT: the client sent bad bytes.
 */
class Undecodable {
  constructor(readonly type: string) {}
}

/** The definition with each method's request deserializer made total (bad bytes → a marker). */
export function tolerantDeserializers(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    const type = `${name}Request`;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch {
          return new Undecodable(type);
        }
      },
    };
  }
  return out as ServiceDefinition;
}

/** Ends a call whose message could not be decoded with INVALID_ARGUMENT, before any handler sees it. */
export const rejectUndecodable: ServerInterceptor = (_method, call) =>
  new ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMessage: (message, nextMessage) => {
          if (message instanceof Undecodable) {
            call.sendStatus({
              code: status.INVALID_ARGUMENT,
              details: `the request is not a valid ${message.type} message`,
            });
            return;
          }
          nextMessage(message);
        },
      }),
  });
