// The Lambda handler scripts/test-servers.mjs runs when none is named: it answers with the
// event it was given and the request id, so a plain POST shows the emulator working.
export async function handler(event, context) {
  return { echo: event, requestId: context.awsRequestId };
}
