"""sstdirect's runtime helpers, as bundled into a Lambda function (see sstdirect.packaging.RUNTIME_HELPERS).

Only the modules a handler imports (``sstdirect.graphql``) are shipped; this file stands in for the
package's ``__init__`` there, so importing them needs neither boto3 nor the deploy tooling.
"""
