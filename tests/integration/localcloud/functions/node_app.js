// Fixture Lambda code (Node.js) for tests/integration/localcloud/test_lambda_runner.py
console.log('cold start of node_app');

exports.asyncHandler = async (event, context) => {
  console.log('async got', JSON.stringify(event));
  return { event, functionName: context.functionName, requestId: context.awsRequestId, env: process.env.GREETING };
};

exports.callbackHandler = (event, context, callback) => {
  setTimeout(() => callback(null, { doubled: event.n * 2 }), 10);
};

exports.fail = async () => {
  const err = new Error('node says no');
  err.name = 'NodeRejected';
  throw err;
};
