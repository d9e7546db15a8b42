"""Providers, one module per AWS service, each beside the typed specs of its resource types.

:data:`PROVIDERS` lists them: :func:`sstdirect.engine.resource.provider_for` imports a provider's module on
the first lookup of its type. Importing this package imports no provider module.
"""

#: resource type → ``"module:Class"`` (a module of this package, the provider class in it)
PROVIDERS: dict[str, str] = {
    "acm.Certificate": "domains:CertificateProvider",
    "acm.CertificateValidation": "domains:CertificateValidationProvider",
    "apigateway.AccountCloudWatchRole": "apigateway:AccountCloudWatchRoleProvider",
    "apigatewayv2.Api": "apigatewayv2:ApiProvider",
    "apigatewayv2.ApiMapping": "domains:ApiMappingProvider",
    "apigatewayv2.Authorizer": "apigatewayv2:AuthorizerProvider",
    "apigatewayv2.DomainName": "domains:DomainNameProvider",
    "apigatewayv2.Integration": "apigatewayv2:IntegrationProvider",
    "apigatewayv2.Route": "apigatewayv2:RouteProvider",
    "apigatewayv2.Stage": "apigatewayv2:StageProvider",
    "appsync.ApiKey": "appsync:ApiKeyProvider",
    "appsync.DataSource": "appsync:DataSourceProvider",
    "appsync.GraphqlApi": "appsync:GraphqlApiProvider",
    "appsync.Resolver": "appsync:ResolverProvider",
    "appsync.Schema": "appsync:SchemaProvider",
    "cognito.IdentityPool": "cognito:IdentityPoolProvider",
    "cognito.IdentityPoolRoles": "cognito:IdentityPoolRolesProvider",
    "cognito.UserPool": "cognito:UserPoolProvider",
    "cognito.UserPoolClient": "cognito:UserPoolClientProvider",
    "dynamodb.Table": "dynamodb:TableProvider",
    "iam.Role": "iam:RoleProvider",
    "lambda.Function": "awslambda:FunctionProvider",
    "lambda.Permission": "awslambda:PermissionProvider",
    "logs.LogGroup": "logs:LogGroupProvider",
    "route53.RecordSet": "domains:RecordSetProvider",
}

#: the batch-create plug-ins (``"module:NAME"``, a :class:`sstdirect.engine.batch.BatchCreate`), see that module
BATCH_CREATES: tuple[str, ...] = ("apigatewayv2_import:HTTP_API_IMPORT",)
