"""Providers, one module per AWS service. Importing this package registers them all."""

from . import apigatewayv2, appsync, awslambda, cognito, domains, iam, logs

__all__ = ["apigatewayv2", "appsync", "awslambda", "cognito", "domains", "iam", "logs"]
