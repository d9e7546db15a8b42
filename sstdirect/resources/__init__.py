"""Providers, one module per AWS service. Importing this package registers them all."""

from . import apigateway, apigatewayv2, appsync, awslambda, cognito, domains, dynamodb, iam, logs

__all__ = ["apigateway", "apigatewayv2", "appsync", "awslambda", "cognito", "domains", "dynamodb", "iam", "logs"]
