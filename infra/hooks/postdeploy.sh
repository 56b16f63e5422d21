#!/bin/sh
# azd postdeploy hook: subscribe the on_resource_event function to the subscription's resource events.
#
# Runs after `azd deploy` (and so after `azd up`), because the Event Grid destination is the function itself
# (endpointType AzureFunction, addressed by resource id, no key): Event Grid checks that destination when the
# subscription is created, and the function exists only once the code is deployed. See infra/eventgrid.bicep.
#
# Service Bus delivery (main.bicep eventsDelivery = 'serviceBus'): main.bicep outputs EVENTGRID_SERVICEBUS_QUEUE_ID, and
# the subscription then targets that session queue instead of the function (no need to wait for indexing). Either way
# the other mode's subscription is deleted, so switching modes never delivers every event twice.
#
# Needs the Azure CLI signed in to the same tenant/subscription as azd (`az login`); the CLI compiles the Bicep
# itself. Idempotent: re-running updates the subscription in place.
set -eu

here=$(cd "$(dirname "$0")" && pwd)

# azd exports the environment's values to hooks; fall back to reading them when run by hand.
if [ -z "${AZURE_RESOURCE_GROUP:-}" ] && command -v azd >/dev/null 2>&1; then
  eval "$(azd env get-values)"
fi

for name in AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME AZURE_FUNCTION_APP_ID \
  EVENTGRID_SYSTEM_TOPIC_NAME EVENTGRID_IDENTITY_ID EVENTGRID_DEADLETTER_STORAGE_ID EVENTGRID_DEADLETTER_CONTAINER; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "postdeploy: $name is not set; run 'azd provision' first." >&2
    exit 1
  fi
done

if ! command -v az >/dev/null 2>&1; then
  echo "postdeploy: the Azure CLI (az) is required to create the Event Grid subscription." >&2
  exit 1
fi

# Optional: empty in direct mode (the default); passed to eventgrid.bicep only when set.
if [ -n "${EVENTGRID_SERVICEBUS_QUEUE_ID:-}" ]; then
  subscription_name=poolkeeper-on-resource-event-queue
  other_subscription=poolkeeper-on-resource-event
else
  subscription_name=poolkeeper-on-resource-event
  other_subscription=poolkeeper-on-resource-event-queue
  # The host indexes the deployed functions asynchronously; wait until ARM lists on_resource_event.
  attempt=1
  until az functionapp function show --subscription "$AZURE_SUBSCRIPTION_ID" --resource-group "$AZURE_RESOURCE_GROUP" \
    --name "$AZURE_FUNCTION_APP_NAME" --function-name on_resource_event --query name --output tsv >/dev/null 2>&1; do
    if [ "$attempt" -ge 20 ]; then
      echo "postdeploy: $AZURE_FUNCTION_APP_ID/functions/on_resource_event did not appear after deployment;" \
        "check the app's logs, then re-run this hook." >&2
      exit 1
    fi
    echo "postdeploy: waiting for on_resource_event to be indexed ($attempt/20)..."
    attempt=$((attempt + 1))
    sleep 15
  done
fi

echo "postdeploy: creating/updating the Event Grid subscription '$subscription_name'..."
az deployment group create \
  --subscription "$AZURE_SUBSCRIPTION_ID" \
  --resource-group "$AZURE_RESOURCE_GROUP" \
  --name poolkeeper-eventgrid \
  --template-file "$here/../eventgrid.bicep" \
  --parameters \
    systemTopicName="$EVENTGRID_SYSTEM_TOPIC_NAME" \
    functionAppName="$AZURE_FUNCTION_APP_NAME" \
    eventGridIdentityId="$EVENTGRID_IDENTITY_ID" \
    deadLetterStorageAccountId="$EVENTGRID_DEADLETTER_STORAGE_ID" \
    deadLetterContainerName="$EVENTGRID_DEADLETTER_CONTAINER" \
    ${EVENTGRID_SERVICEBUS_QUEUE_ID:+"serviceBusQueueId=$EVENTGRID_SERVICEBUS_QUEUE_ID"} \
  --output none

if az eventgrid system-topic event-subscription show --subscription "$AZURE_SUBSCRIPTION_ID" \
  --resource-group "$AZURE_RESOURCE_GROUP" --system-topic-name "$EVENTGRID_SYSTEM_TOPIC_NAME" \
  --name "$other_subscription" --query name --output tsv >/dev/null 2>&1; then
  echo "postdeploy: deleting '$other_subscription' (the other delivery mode's subscription)..."
  az eventgrid system-topic event-subscription delete --subscription "$AZURE_SUBSCRIPTION_ID" \
    --resource-group "$AZURE_RESOURCE_GROUP" --system-topic-name "$EVENTGRID_SYSTEM_TOPIC_NAME" \
    --name "$other_subscription" --yes --output none
fi

echo "postdeploy: Event Grid subscription '$subscription_name' is in place."
