// GET /when: durations made readable by ms.
import ms from "ms";

export const handler = async () => ({
  statusCode: 200,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ inAMinute: ms(60000), oneDayInMs: ms("1d") }),
});
