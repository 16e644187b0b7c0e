// Drives the real pusher-js against the hub and prints one JSON line per thing it sees.
// Configured by environment: HUB_HOST, HUB_PORT, PUSHER_KEY, SHIPMENT_CHANNEL,
// MERCHANT_CHANNEL, AUTH_ENDPOINT, AUTH_TOKEN.
import Pusher from "pusher-js";

const env = process.env;
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const options = {
  cluster: "hub",
  wsHost: env.HUB_HOST,
  wsPort: Number(env.HUB_PORT),
  forceTLS: false,
  enabledTransports: ["ws"],
  disableStats: true,
};

const pusher = new Pusher(env.PUSHER_KEY, {
  ...options,
  channelAuthorization: {
    endpoint: env.AUTH_ENDPOINT,
    transport: "ajax",
    headers: { Authorization: `Bearer ${env.AUTH_TOKEN}` },
  },
});
pusher.connection.bind("error", (error) => print({ kind: "error", client: "good", error }));
for (const name of [env.SHIPMENT_CHANNEL, env.MERCHANT_CHANNEL]) {
  const channel = pusher.subscribe(name);
  channel.bind("pusher:subscription_succeeded", () => print({ kind: "subscribed", channel: name }));
  channel.bind("pusher:subscription_error", (error) => print({ kind: "subscription_error", channel: name, error }));
  channel.bind_global((event, data) => {
    if (!event.startsWith("pusher:")) print({ kind: "event", channel: name, event, data });
  });
}

// A second client forges its signature: the hub must refuse the subscription.
const forger = new Pusher(env.PUSHER_KEY, {
  ...options,
  channelAuthorization: {
    customHandler: (params, callback) =>
      callback(null, { auth: `${env.PUSHER_KEY}:${"0".repeat(64)}` }),
  },
});
forger.connection.bind("error", (error) => print({ kind: "error", client: "forger", error }));
const forged = forger.subscribe(env.MERCHANT_CHANNEL);
forged.bind("pusher:subscription_succeeded", () => print({ kind: "subscribed", client: "forger" }));

process.stdin.on("end", () => {
  pusher.disconnect();
  forger.disconnect();
  process.exit(0);
});
process.stdin.resume();
