// The seed's frontend code, copied verbatim from the question (shared/seed/000_25c999fcf8e75d6a.txt);
// the only change is the value of `wsEndpoint`, pointed at the test server.
function initializeVoiceWebSocket() { const wsEndpoint = `ws://${location.host}/ws/voice-chat/`; voiceSocket = new WebSocket(wsEndpoint);            
    voiceSocket.onopen = function () {
                console.log("Voice WebSocket connection established");
            };

            voiceSocket.onmessage = function (event) {
                const response = JSON.parse(event.data);
                // Check if the response contains text and display it
                if (response.text) {
                    chatMessages.append(genericBotMessage(response.text));  // Display the text response
                    chatMessages.scrollTop(chatMessages.prop("scrollHeight"));
                }

                // Check if the response contains audio and play it
                if (response.audio) {
                    playBase64Audio(response.audio);  // Play the audio response if available
                }
            };

            voiceSocket.onerror = function (error) {
                console.error('Voice WebSocket Error:', error);
            };

            voiceSocket.onclose = function () {
                console.log("Voice WebSocket connection closed");
            };
        }

        // Function to send a text message
        function sendTextMessage(prompt) {
            if (textSocket.readyState === WebSocket.OPEN) {
                const message = {
                    usr_query: prompt,
                    usr_id: "066463f4-4762-42f2-8c72-69e79b0c99c7",  // Static or dynamic user ID
                    is_voice: isVoiceQuery  // Flag indicating whether it's a voice message
                };
                textSocket.send(JSON.stringify(message));
            } else {
                console.error('Text WebSocket is not open.');
            }
        }

        // Function to send a voice message
        function sendVoiceMessage(prompt) {
            if (voiceSocket.readyState === WebSocket.OPEN) {
                const message = {
                    usr_query: prompt,
                    usr_id: "066463f4-4762-42f2-8c72-69e79b0c99c7",  // Static or dynamic user ID
                    is_voice: true  // This is a voice-based message
                };
                voiceSocket.send(JSON.stringify(message));
            } else {
                console.error('Voice WebSocket is not open.');
            }
        }

        // Handle Text WebSocket Message
        function handleTextMessage(data) {
            chatMessages.append(genericBotMessage(data));  // Display the bot response
        }

        // Play Base64 Audio
        function playBase64Audio(base64Audio) {
            const audioBlob = base64ToBlob(base64Audio, 'audio/mpeg');
            const audioUrl = URL.createObjectURL(audioBlob);
            const audio = new Audio(audioUrl);
            audio.play();
        }

        // Convert Base64 to Blob
        function base64ToBlob(base64, mimeType) {
            const byteCharacters = atob(base64);
            const byteArrays = [];
            for (let offset = 0; offset < byteCharacters.length; offset += 512) {
                const slice = byteCharacters.slice(offset, offset + 512);
                const byteNumbers = new Array(slice.length);
                for (let i = 0; i < slice.length; i++) {
                    byteNumbers[i] = slice.charCodeAt(i);
                }
                const byteArray = new Uint8Array(byteNumbers);
                byteArrays.push(byteArray);
            }
            return new Blob(byteArrays, { type: mimeType });
        }
